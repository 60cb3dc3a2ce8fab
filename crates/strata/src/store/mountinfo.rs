//! What the kernel has mounted, read from `/proc/self/mountinfo`: the
//! store's own mount counts can be wrong (a process killed between a mount
//! and its count, or the reverse), so deletion, fsck and collection ask the
//! kernel which mount points lie under a layer's directories.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

/// Mount points at or under `dir` (made absolute and resolved first, as
/// the kernel reports them), deepest first, so unmounting them in this
/// order works.
pub(crate) fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let dir = resolved(dir);
    let text = std::fs::read("/proc/self/mountinfo")
        .context(|| "cannot read /proc/self/mountinfo".into())?;
    let mut found: Vec<PathBuf> = parse(&text)
        .into_iter()
        .filter(|point| point.starts_with(&dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    Ok(found)
}

/// `path` made absolute with its symlinks resolved, or as given when it
/// does not exist.
pub(crate) fn resolved(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Unmounts the mount at `point` (lazily if it is busy).
pub(crate) fn unmount(point: &Path) -> Result<()> {
    use rustix::mount::{UnmountFlags, unmount};
    match unmount(point, UnmountFlags::NOFOLLOW) {
        Err(rustix::io::Errno::BUSY) => {
            unmount(point, UnmountFlags::DETACH | UnmountFlags::NOFOLLOW)
        }
        other => other,
    }
    .context(|| format!("cannot unmount {}", point.display()))
}

/// The mount points of a mountinfo table (field 5 of each line).
fn parse(text: &[u8]) -> Vec<PathBuf> {
    text.split(|&b| b == b'\n')
        .filter_map(|line| line.split(|&b| b == b' ').nth(4))
        .map(|field| PathBuf::from(OsString::from_vec(unescape(field))))
        .collect()
}

/// Undoes the kernel's octal escapes (`\040` for a space, and so on).
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|digits| field[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match octal {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(value as u8);
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        let table = b"36 35 98:0 / /mnt/a\\040b rw,noatime shared:1 - ext4 /dev/x rw\n\
                      37 35 0:5 / /proc rw - proc proc rw\n";
        assert_eq!(
            parse(table),
            vec![PathBuf::from("/mnt/a b"), PathBuf::from("/proc")]
        );
        assert_eq!(unescape(b"a\\134b\\011"), b"a\\b\t");
        assert_eq!(unescape(b"trailing\\04"), b"trailing\\04");
    }

    #[test]
    fn the_root_file_system_is_under_slash() {
        let found = mounts_under(Path::new("/")).expect("mountinfo");
        assert!(found.contains(&PathBuf::from("/")), "{found:?}");
        assert_eq!(found.last(), Some(&PathBuf::from("/")));
    }
}
