//! Work directories: `staging/<name>/` for layers being made and
//! `trash/<name>/` for layers being deleted. Beside each is its lock file
//! `<name>.lock`, which the owner keeps locked (flock) for as long as it
//! works there, so another process can tell a live owner from a dead one
//! and clean up after the dead.
//!
//! The lock file is created locked (an unnamed `O_TMPFILE` linked into
//! place once locked) before the directory exists, and removed after the
//! directory is gone, so a directory whose lock file is missing or free has
//! no owner.

use std::fs::{File, TryLockError};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use std::time::Duration;

use super::durable::random_hex;
use crate::error::{IoContext, Result};

const LOCK_SUFFIX: &str = ".lock";

/// A lock file still under its temporary name may belong to an owner that
/// has not renamed it yet; older ones are abandoned.
const PENDING_GRACE: Duration = Duration::from_secs(60);

/// A work directory we own.
pub(crate) struct WorkDir {
    path: PathBuf,
    lock_path: PathBuf,
    name: String,
    _lock: Option<File>,
}

/// What became of a work directory's owner.
pub(crate) enum Owner {
    /// Still working.
    Alive,
    /// Gone; the directory and its lock (if they exist) are now ours.
    Dead(Option<WorkDir>),
}

impl WorkDir {
    /// Creates `parent/<random>/` with its lock held.
    pub(crate) fn create(parent: &Path) -> Result<Self> {
        let name = random_hex(16);
        let lock_path = parent.join(format!("{name}{LOCK_SUFFIX}"));
        let lock = create_locked(parent, &name, &lock_path)?;
        let path = parent.join(&name);
        std::fs::create_dir(&path).context(|| format!("cannot create {}", path.display()))?;
        Ok(Self {
            path,
            lock_path,
            name,
            _lock: Some(lock),
        })
    }

    /// Takes over `parent/name` if its owner is gone.
    pub(crate) fn adopt(parent: &Path, name: &str) -> Result<Owner> {
        let path = parent.join(name);
        let lock_path = parent.join(format!("{name}{LOCK_SUFFIX}"));
        let lock = match File::open(&lock_path) {
            Ok(lock) => lock,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let orphan = path.exists().then(|| Self {
                    path,
                    lock_path,
                    name: name.to_string(),
                    _lock: None,
                });
                return Ok(Owner::Dead(orphan));
            }
            Err(e) => return Err(e).context(|| format!("cannot open {}", lock_path.display())),
        };
        match lock.try_lock() {
            Ok(()) => Ok(Owner::Dead(Some(Self {
                path,
                lock_path,
                name: name.to_string(),
                _lock: Some(lock),
            }))),
            Err(TryLockError::WouldBlock) => Ok(Owner::Alive),
            Err(TryLockError::Error(e)) => {
                Err(e).context(|| format!("cannot lock {}", lock_path.display()))
            }
        }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Its name within its parent.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Removes the directory and everything in it, then its lock file.
    pub(crate) fn remove(self) -> Result<()> {
        remove_if_present(&self.path, |p| std::fs::remove_dir_all(p))?;
        remove_if_present(&self.lock_path, |p| std::fs::remove_file(p))
    }
}

/// Creates `lock_path` already locked: as an unnamed file, locked, then
/// linked into place, so no one ever sees it unlocked. Where the file system
/// has no `O_TMPFILE`, under a temporary dot-name that is renamed.
fn create_locked(parent: &Path, name: &str, lock_path: &Path) -> Result<File> {
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    if let Ok(fd) = rustix::fs::open(parent, flags, Mode::from_raw_mode(0o600)) {
        let lock = File::from(fd);
        lock.lock()
            .context(|| format!("cannot lock a file in {}", parent.display()))?;
        let proc_path = format!("/proc/self/fd/{}", lock.as_raw_fd());
        let linked = rustix::fs::linkat(
            CWD,
            proc_path.as_str(),
            CWD,
            lock_path,
            AtFlags::SYMLINK_FOLLOW,
        );
        if linked.is_ok() {
            return Ok(lock);
        }
    }
    let pending = parent.join(format!(".{name}{LOCK_SUFFIX}.new"));
    let lock = File::create(&pending).context(|| format!("cannot create {}", pending.display()))?;
    lock.lock()
        .context(|| format!("cannot lock {}", pending.display()))?;
    std::fs::rename(&pending, lock_path)
        .context(|| format!("cannot create {}", lock_path.display()))?;
    Ok(lock)
}

fn remove_if_present(path: &Path, remove: fn(&Path) -> std::io::Result<()>) -> Result<()> {
    match remove(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).context(|| format!("cannot remove {}", path.display())),
    }
}

/// Names of the work directories under `parent` (from directories and
/// lock files alike, so a lock left alone is found too).
pub(crate) fn list(parent: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = entries(parent)?
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .map(|n| n.strip_suffix(LOCK_SUFFIX).map(str::to_string).unwrap_or(n))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Removes lock files left under their temporary name by owners that died
/// before renaming them.
pub(crate) fn remove_abandoned_pending(parent: &Path) -> Result<()> {
    for name in entries(parent)?
        .into_iter()
        .filter(|n| n.starts_with('.') && n.ends_with(".new"))
    {
        let path = parent.join(&name);
        let old = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > PENDING_GRACE);
        let free = File::open(&path).is_ok_and(|f| f.try_lock().is_ok());
        if old && free {
            remove_if_present(&path, |p| std::fs::remove_file(p))?;
        }
    }
    Ok(())
}

/// Names of the entries of `dir` (none if it does not exist).
pub(crate) fn entries(dir: &Path) -> Result<Vec<String>> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context(|| format!("cannot list {}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in read {
        let entry = entry.context(|| format!("cannot list {}", dir.display()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}
