//! Work directories: `staging/<name>/` for layers being made and
//! `trash/<name>/` for layers being deleted. Beside each is its lock file
//! `<name>.lock`, which the owner keeps locked (flock) for as long as it
//! works there, so another process can tell a live owner from a dead one
//! and clean up after the dead.
//!
//! The lock file is created locked (written aside, locked, then named; see
//! [`super::lock`]) before the directory exists, and removed after the
//! directory is gone, so a directory whose lock file is missing or free has
//! no owner.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::aside::is_temp_name;
use super::dir::{entries, remove_file, remove_tree};
use super::lock::{Locked, create_locked, try_lock};
use super::random::random_hex;
use crate::error::{IoContext, Result};

const LOCK_SUFFIX: &str = ".lock";

/// A lock file still under its temporary name (on file systems without
/// `O_TMPFILE`) may belong to an owner that has not renamed it yet; older
/// ones are abandoned.
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
        let lock_name = format!("{name}{LOCK_SUFFIX}");
        let lock = create_locked(parent, &lock_name)?;
        let lock_path = parent.join(lock_name);
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
        let owned = |lock| Self {
            path: path.clone(),
            lock_path: lock_path.clone(),
            name: name.to_string(),
            _lock: lock,
        };
        match try_lock(&lock_path)? {
            Locked::Taken(lock) => Ok(Owner::Dead(Some(owned(Some(lock))))),
            Locked::Held => Ok(Owner::Alive),
            Locked::Missing => Ok(Owner::Dead(path.exists().then(|| owned(None)))),
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
        remove_tree(&self.path)?;
        remove_file(&self.lock_path)
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
        .filter(|n| is_temp_name(n) || (n.starts_with('.') && n.ends_with(".new")))
    {
        let path = parent.join(&name);
        let old = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > PENDING_GRACE);
        let free = matches!(try_lock(&path)?, Locked::Taken(_));
        if old && free {
            remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn touch(path: &Path, age: Duration) {
        let file = File::create(path).expect("create");
        file.set_modified(SystemTime::now() - age)
            .expect("set mtime");
    }

    #[test]
    fn a_work_directory_is_adopted_only_once_its_owner_is_gone() {
        let parent = tempfile::tempdir().expect("temp dir");
        let work = WorkDir::create(parent.path()).expect("create");
        let name = work.name().to_string();
        assert!(work.path().is_dir());
        assert_eq!(
            list(parent.path()).expect("list"),
            std::slice::from_ref(&name)
        );
        assert!(matches!(
            WorkDir::adopt(parent.path(), &name).expect("adopt"),
            Owner::Alive
        ));
        drop(work);
        let Owner::Dead(Some(adopted)) = WorkDir::adopt(parent.path(), &name).expect("adopt")
        else {
            panic!("the owner is gone: the directory is ours");
        };
        adopted.remove().expect("remove");
        assert!(entries(parent.path()).expect("list").is_empty());
    }

    #[test]
    fn only_old_free_pending_lock_files_are_removed() {
        let parent = tempfile::tempdir().expect("temp dir");
        let old = PENDING_GRACE + Duration::from_secs(5);
        let temp = || format!(".strata-tmp-{}", random_hex(16));
        let (old_free, old_held, fresh) = (temp(), temp(), temp());
        touch(&parent.path().join(&old_free), old);
        touch(&parent.path().join(".abc.lock.new"), old);
        touch(&parent.path().join(&old_held), old);
        let held = File::open(parent.path().join(&old_held)).expect("open");
        held.lock().expect("lock");
        touch(&parent.path().join(&fresh), Duration::ZERO);
        touch(&parent.path().join("other.lock"), old);

        remove_abandoned_pending(parent.path()).expect("remove");
        let mut left = entries(parent.path()).expect("list");
        left.sort();
        let mut expected = vec![old_held, fresh, "other.lock".to_string()];
        expected.sort();
        assert_eq!(left, expected);
    }
}
