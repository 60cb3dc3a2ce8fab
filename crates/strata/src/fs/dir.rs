//! Directory listing and removal that treat "already gone" as done.

use std::path::Path;

use crate::error::{IoContext, Result};

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

/// Removes the file `path`; a missing one is no error.
pub(crate) fn remove_file(path: &Path) -> Result<()> {
    remove_if_present(path, |p| std::fs::remove_file(p))
}

/// Removes the directory `path` and everything in it; a missing one is no
/// error.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    remove_if_present(path, |p| std::fs::remove_dir_all(p))
}

fn remove_if_present(path: &Path, remove: fn(&Path) -> std::io::Result<()>) -> Result<()> {
    match remove(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).context(|| format!("cannot remove {}", path.display())),
    }
}
