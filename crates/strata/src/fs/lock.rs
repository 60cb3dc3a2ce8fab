//! Lock files: `flock(2)` held by a live owner, free once it is gone.

use std::ffi::OsStr;
use std::fs::{File, TryLockError};
use std::path::Path;

use super::aside::{AsideFile, Sync};
use crate::error::{IoContext, Result};

/// Creates `dir/name` already locked: written aside, locked, then named,
/// so no one ever sees it unlocked. Fails if `dir/name` exists.
pub(crate) fn create_locked(dir: &Path, name: &str) -> Result<File> {
    let mut aside = AsideFile::create_in(dir, 0o600)?;
    aside
        .file()
        .lock()
        .context(|| format!("cannot lock a file in {}", dir.display()))?;
    aside.place_new(OsStr::new(name), Sync::Later)
}

/// What [`try_lock`] found.
pub(crate) enum Locked {
    /// The lock is ours now.
    Taken(File),
    /// Someone holds it.
    Held,
    /// There is no lock file.
    Missing,
}

/// Opens the lock file `path` and takes its lock if it is free.
pub(crate) fn try_lock(path: &Path) -> Result<Locked> {
    let lock = match File::open(path) {
        Ok(lock) => lock,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Locked::Missing),
        Err(e) => return Err(e).context(|| format!("cannot open {}", path.display())),
    };
    match lock.try_lock() {
        Ok(()) => Ok(Locked::Taken(lock)),
        Err(TryLockError::WouldBlock) => Ok(Locked::Held),
        Err(TryLockError::Error(e)) => Err(e).context(|| format!("cannot lock {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_lock_is_held_until_its_file_closes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock = create_locked(dir.path(), "a.lock").expect("create");
        let path = dir.path().join("a.lock");
        assert!(matches!(try_lock(&path).expect("try"), Locked::Held));
        assert!(create_locked(dir.path(), "a.lock").is_err(), "exists");
        drop(lock);
        assert!(matches!(try_lock(&path).expect("try"), Locked::Taken(_)));
        assert!(matches!(
            try_lock(&dir.path().join("b.lock")).expect("try"),
            Locked::Missing
        ));
        let names = super::super::dir::entries(dir.path()).expect("list");
        assert_eq!(names, ["a.lock"], "no temporary file left");
    }
}
