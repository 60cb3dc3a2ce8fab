//! Durable file operations for the store's own files.
//!
//! Nothing is written in place: a metadata file is written aside (an
//! unnamed file in its directory, see [`super::aside`]), fsync'd, named by
//! a rename over the old one, and its directory fsync'd. Bulk data is
//! written into a work directory ([`create_new`], [`write_new`]) and made
//! durable by one [`syncfs`] before the rename that publishes it.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::aside::{AsideFile, Sync};
use crate::error::{Error, IoContext, Result};

/// Mode of new files, less the umask.
const FILE_MODE: u32 = 0o666;

/// `fsync(2)` on a directory, making renames and creations in it durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    let file = File::open(dir).context(|| format!("cannot open {}", dir.display()))?;
    file.sync_all()
        .context(|| format!("cannot sync {}", dir.display()))
}

/// `syncfs(2)`: flushes the whole file system holding `path`.
pub fn syncfs(path: &Path) -> Result<()> {
    let file = File::open(path).context(|| format!("cannot open {}", path.display()))?;
    rustix::fs::syncfs(&file)
        .context(|| format!("cannot sync the file system of {}", path.display()))
}

/// Renames `from` to `to` and makes both directories durable.
pub fn rename_durable(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to)
        .context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
    sync_both(from, to)
}

/// [`rename_durable`] of something another process may have moved away
/// first (a deletion racing a collection): `from` missing is no error.
/// Returns whether it moved.
pub fn rename_durable_if_present(from: &Path, to: &Path) -> Result<bool> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        moved => {
            moved.context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
            sync_both(from, to)?;
            Ok(true)
        }
    }
}

fn sync_both(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        fsync_dir(dir)?;
    }
    match from.parent() {
        Some(dir) if Some(dir) != to.parent() => fsync_dir(dir),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` durably, replacing any file there atomically:
/// written aside, fsync'd, renamed into place, directory fsync'd. A
/// failure (or a killed process) leaves `path` as it was.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let (dir, name) = split(path)?;
    let mut aside = AsideFile::create_in(dir, FILE_MODE)?;
    aside
        .file()
        .write_all(bytes)
        .context(|| format!("cannot write {}", path.display()))?;
    aside.place(name, Sync::Durable).map(drop)
}

/// A file being written aside in a directory of the store, named by
/// [`StagedFile::publish`] once complete; dropped unpublished, it leaves
/// nothing. Not flushed: the caller makes it durable (with [`syncfs`]).
pub struct StagedFile {
    aside: AsideFile,
}

impl StagedFile {
    /// A new file in `dir`.
    pub fn create_in(dir: &Path) -> Result<Self> {
        Ok(Self {
            aside: AsideFile::create_in(dir, FILE_MODE)?,
        })
    }

    /// The file, to write.
    pub fn file(&mut self) -> &mut File {
        self.aside.file()
    }

    /// Names the file `name` in its directory, replacing atomically what
    /// has that name.
    pub fn publish(self, name: &str) -> Result<()> {
        self.aside.place(OsStr::new(name), Sync::Later).map(drop)
    }
}

/// Creates the new file `path` in a work directory (an error if it
/// exists). Made durable by the [`syncfs`] that publishes the work.
pub fn create_new(path: &Path) -> Result<File> {
    File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .context(|| format!("cannot create {}", path.display()))
}

/// Writes the new file `path` in a work directory (see [`create_new`]).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    create_new(path)?
        .write_all(bytes)
        .context(|| format!("cannot write {}", path.display()))
}

/// Makes `path` a symlink to `target` and its directory durable. Whatever
/// had the name is removed first; the two steps are not one atomic
/// replacement, so this is for names made afresh, where what it replaces
/// can only be the leftover of an attempt that crashed.
pub fn symlink_durable(target: &Path, path: &Path) -> Result<()> {
    super::dir::remove_file(path)?;
    std::os::unix::fs::symlink(target, path)
        .context(|| format!("cannot create {}", path.display()))?;
    let (dir, _) = split(path)?;
    fsync_dir(dir)
}

/// Creates `dir` and its parents, making the new entries durable.
pub fn create_dir_all(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    match dir.parent() {
        Some(parent) => fsync_dir(parent),
        None => Ok(()),
    }
}

/// The directory and file name of `path` (`.` for a bare name).
pub(crate) fn split(path: &Path) -> Result<(&Path, &OsStr)> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} does not name a file", path.display())))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Ok((dir, name))
}
