//! Durable file operations: the only way the store writes its files.
//! Nothing is written in place: metadata goes temp → fsync → rename →
//! fsync(dir); bulk data is flushed with one `syncfs` before the commit that
//! publishes it.

use std::fs::File;
use std::path::Path;

use crate::error::{IoContext, Result};

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
    if let Some(dir) = to.parent() {
        fsync_dir(dir)?;
    }
    match from.parent() {
        Some(dir) if Some(dir) != to.parent() => fsync_dir(dir),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` durably: a temporary file beside it, fsync,
/// rename, fsync of the directory. The temporary file goes on failure.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", random_hex(8)));
    let written = File::options()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, bytes)?;
            file.sync_all()
        })
        .context(|| format!("cannot write {}", temp.display()))
        .and_then(|()| rename_durable(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
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

/// `2 * bytes` random lowercase hex digits.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let mut filled = 0;
    while filled < bytes {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => {
                // getrandom cannot fail on Linux ≥ 3.17 once the pool is ready;
                // fall back to the clock and pid rather than give up.
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default()
                    ^ u128::from(std::process::id());
                for (i, b) in buf[filled..].iter_mut().enumerate() {
                    *b = (seed >> ((i % 16) * 8)) as u8;
                }
                filled = bytes;
            }
        }
    }
    hex::encode(buf)
}
