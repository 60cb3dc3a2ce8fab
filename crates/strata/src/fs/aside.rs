//! Files written aside: an unnamed file (`O_TMPFILE`) in the directory it
//! will live in, given its name only once it is complete.
//!
//! Until it is placed, the file has no name, so a failure or a killed
//! process leaves nothing behind: the kernel frees it with its last
//! descriptor. Placing links it straight under its final name when that
//! name is free; to replace an existing file it links it under a temporary
//! name and renames that over the final one, so the replacement is atomic
//! and the temporary name exists only between the two calls.
//!
//! Where the file system has no `O_TMPFILE`, the file is created under a
//! hidden temporary name ([`is_temp_name`]) instead; it is removed when
//! writing fails or the [`AsideFile`] is dropped unplaced, but a process
//! killed while writing leaves it behind.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::random::random_hex;
use crate::error::{IoContext, Result};

/// Prefix of the temporary names aside files have while they are placed
/// (or, without `O_TMPFILE`, while they are written).
const TEMP_PREFIX: &str = ".strata-tmp-";

/// Whether `name` is a temporary name of an aside file: what a process
/// killed at the wrong moment may leave in a directory it wrote into.
pub fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether placing an aside file flushes it and its directory to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sync {
    /// `fsync` the file before it is named and the directory after.
    Durable,
    /// The caller makes it durable later (one `syncfs` for many files).
    Later,
}

/// A file being written in a directory, not yet under its name.
pub(crate) struct AsideFile {
    file: File,
    dir_path: PathBuf,
    at: Hidden,
}

/// The directory of an aside file and, for one made without `O_TMPFILE`,
/// its hidden name, removed unless the file is placed.
struct Hidden {
    dir: OwnedFd,
    name: Option<String>,
}

impl Drop for Hidden {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            let _ = rustix::fs::unlinkat(&self.dir, name.as_str(), AtFlags::empty());
        }
    }
}

impl AsideFile {
    /// A new empty file in `dir`, readable and writable, with `mode`
    /// (less the umask): unnamed where the file system allows it, else
    /// under a hidden temporary name.
    pub(crate) fn create_in(dir: &Path, mode: u32) -> Result<Self> {
        let dir_fd = open_dir(dir)?;
        let unnamed = rustix::fs::openat(
            &dir_fd,
            ".",
            OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        );
        match unnamed {
            Ok(fd) => Ok(Self {
                file: File::from(fd),
                dir_path: dir.to_path_buf(),
                at: Hidden {
                    dir: dir_fd,
                    name: None,
                },
            }),
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => Self::create_named(dir, mode),
            Err(e) => Err(e).context(|| format!("cannot create a file in {}", dir.display())),
        }
    }

    /// A new empty file in `dir` under a hidden temporary name: the way
    /// of file systems without `O_TMPFILE`.
    fn create_named(dir: &Path, mode: u32) -> Result<Self> {
        let dir_fd = open_dir(dir)?;
        let name = temp_name();
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir_fd, name.as_str(), flags, Mode::from_raw_mode(mode))
            .context(|| format!("cannot create a file in {}", dir.display()))?;
        Ok(Self {
            file: File::from(fd),
            dir_path: dir.to_path_buf(),
            at: Hidden {
                dir: dir_fd,
                name: Some(name),
            },
        })
    }

    /// A scratch file in `dir` that never has a name: an unnamed file,
    /// or where the file system has no `O_TMPFILE`, one whose hidden name
    /// is removed at once. It goes away with its last handle.
    pub(crate) fn scratch_in(dir: &Path) -> Result<File> {
        let aside = Self::create_in(dir, 0o600)?;
        Ok(aside.file)
    }

    /// The file, to write (and read back).
    pub(crate) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Names the file `name` in its directory, replacing atomically
    /// whatever has that name. An unnamed file is linked straight to
    /// `name` when nothing has it, so a kill leaves nothing behind; only
    /// a replacement goes through a temporary name (a kill between its
    /// link and its rename leaves that name, which gc removes once old).
    pub(crate) fn place(mut self, name: &OsStr, sync: Sync) -> Result<File> {
        self.sync_file(name, sync)?;
        let temp = match self.at.name.take() {
            Some(temp) => temp,
            None => match self.link_at(name) {
                Ok(()) => return self.finish(sync),
                Err(Errno::EXIST) => self.link_temp()?,
                Err(e) => {
                    return Err(e)
                        .context(|| format!("cannot move {} into place", self.what(name)));
                }
            },
        };
        let dir = &self.at.dir;
        if let Err(e) = rustix::fs::renameat(dir, temp.as_str(), dir, name) {
            let _ = rustix::fs::unlinkat(dir, temp.as_str(), AtFlags::empty());
            return Err(e).context(|| format!("cannot move {} into place", self.what(name)));
        }
        self.finish(sync)
    }

    /// Names the file `name` in its directory, which must not have it yet.
    pub(crate) fn place_new(mut self, name: &OsStr, sync: Sync) -> Result<File> {
        self.sync_file(name, sync)?;
        let dir = &self.at.dir;
        let placed = match self.at.name.take() {
            Some(temp) => {
                let moved = rustix::fs::renameat_with(
                    dir,
                    temp.as_str(),
                    dir,
                    name,
                    RenameFlags::NOREPLACE,
                );
                if moved.is_err() {
                    let _ = rustix::fs::unlinkat(dir, temp.as_str(), AtFlags::empty());
                }
                moved
            }
            None => self.link_at(name),
        };
        placed.context(|| format!("cannot create {}", self.what(name)))?;
        self.finish(sync)
    }

    fn what(&self, name: &OsStr) -> String {
        self.dir_path.join(name).display().to_string()
    }

    fn sync_file(&self, name: &OsStr, sync: Sync) -> Result<()> {
        match sync {
            Sync::Durable => self
                .file
                .sync_all()
                .context(|| format!("cannot write {}", self.what(name))),
            Sync::Later => Ok(()),
        }
    }

    /// Links the unnamed file under a fresh temporary name.
    fn link_temp(&self) -> Result<String> {
        let temp = temp_name();
        self.link_at(OsStr::new(&temp)).context(|| {
            format!(
                "cannot give a name to a new file in {}",
                self.dir_path.display()
            )
        })?;
        Ok(temp)
    }

    /// `linkat` of the unnamed file: through `/proc/self/fd`, which needs
    /// no privilege, else by descriptor (`AT_EMPTY_PATH`, which needs
    /// `CAP_DAC_READ_SEARCH`) where `/proc` is not mounted.
    fn link_at(&self, name: &OsStr) -> rustix::io::Result<()> {
        let proc_path = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        let dir = &self.at.dir;
        match rustix::fs::linkat(CWD, proc_path.as_str(), dir, name, AtFlags::SYMLINK_FOLLOW) {
            Err(Errno::NOENT) => {
                rustix::fs::linkat(self.file.as_fd(), "", dir, name, AtFlags::EMPTY_PATH)
            }
            other => other,
        }
    }

    /// Flushes the directory if asked; the file is now named and stays.
    fn finish(self, sync: Sync) -> Result<File> {
        if sync == Sync::Durable {
            rustix::fs::fsync(&self.at.dir)
                .context(|| format!("cannot sync {}", self.dir_path.display()))?;
        }
        Ok(self.file)
    }
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .context(|| format!("cannot open the directory {}", dir.display()))
}

fn temp_name() -> String {
    format!("{TEMP_PREFIX}{}", random_hex(16))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names = super::super::dir::entries(dir).expect("list");
        names.sort();
        names
    }

    /// Makers of an unnamed aside file and of a named one.
    const KINDS: [fn(&Path, u32) -> Result<AsideFile>; 2] =
        [AsideFile::create_in, AsideFile::create_named];

    fn both_kinds(dir: &Path) -> [AsideFile; 2] {
        KINDS.map(|make| make(dir, 0o644).expect("create"))
    }

    #[test]
    fn temporary_names_are_recognised() {
        assert!(is_temp_name(&temp_name()));
        assert!(!is_temp_name(".strata-tmp-"));
        assert!(!is_temp_name("strata-tmp-0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn placing_replaces_the_old_file_and_leaves_no_temporary_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("f");
        for (i, make) in KINDS.into_iter().enumerate() {
            std::fs::write(&target, b"old").expect("old");
            let mut aside = make(dir.path(), 0o644).expect("create");
            write!(aside.file(), "new {i}").expect("write");
            assert_eq!(std::fs::read(&target).expect("read"), b"old");
            aside.place(OsStr::new("f"), Sync::Durable).expect("place");
            assert_eq!(
                std::fs::read(&target).expect("read"),
                format!("new {i}").as_bytes()
            );
            assert_eq!(names(dir.path()), ["f"]);
        }
    }

    #[test]
    fn placing_new_never_replaces() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("f"), b"old").expect("old");
        for make in KINDS {
            let aside = make(dir.path(), 0o644).expect("create");
            assert!(aside.place_new(OsStr::new("f"), Sync::Later).is_err());
            assert_eq!(std::fs::read(dir.path().join("f")).expect("read"), b"old");
            assert_eq!(names(dir.path()), ["f"]);
        }
        for (i, aside) in both_kinds(dir.path()).into_iter().enumerate() {
            aside
                .place_new(OsStr::new(&format!("g{i}")), Sync::Later)
                .expect("place new");
        }
        assert_eq!(names(dir.path()), ["f", "g0", "g1"]);
    }

    #[test]
    fn dropped_unplaced_it_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let kinds = both_kinds(dir.path());
        assert_eq!(names(dir.path()).len(), 1, "only the named one is seen");
        assert!(is_temp_name(&names(dir.path())[0]));
        drop(kinds);
        assert!(names(dir.path()).is_empty());
    }
}
