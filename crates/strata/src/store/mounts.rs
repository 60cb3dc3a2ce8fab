//! Mount reference counts. They live in the database tagged with the boot
//! id, so they survive the process that mounted but not a reboot (which
//! undoes every mount): a count from another boot reads as zero. The
//! kernel's own table (`/proc/self/mountinfo`) is the other half of the
//! truth: deletion refuses a layer the kernel has mounted whatever the
//! count says, and fsck compares the two.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::fsck::FsckIssue;
use super::{Store, mountinfo, records};
use crate::error::{Error, Result};

/// This boot's id (`/proc/sys/kernel/random/boot_id`).
pub(crate) fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// How many times layer `id` is mounted in this boot.
pub(crate) fn count(conn: &Connection, id: &str) -> Result<u64> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("SELECT count, boot_id FROM mounts WHERE layer_id = ?1")?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(match row {
        Some((count, boot)) if boot == boot_id() => count.max(0) as u64,
        _ => 0,
    })
}

fn set_count(conn: &Connection, id: &str, count: u64) -> Result<()> {
    if count == 0 {
        return forget(conn, id);
    }
    conn.prepare_cached(
        "INSERT INTO mounts (layer_id, count, boot_id) VALUES (?1, ?2, ?3) \
         ON CONFLICT(layer_id) DO UPDATE SET count = excluded.count, boot_id = excluded.boot_id",
    )?
    .execute(params![id, count as i64, boot_id()])?;
    Ok(())
}

/// Drops the count of layer `id`.
pub(crate) fn forget(conn: &Connection, id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM mounts WHERE layer_id = ?1")?
        .execute([id])?;
    Ok(())
}

impl Store {
    /// Mounts a layer (counting mounts); returns where its tree is.
    ///
    /// The count goes up in one transaction before the mount, and the
    /// mount happens in a second one (which serializes mounts across
    /// processes): a process killed in between leaves a count without a
    /// mount, which keeps the layer from deletion and which fsck reports
    /// (`stale-mount-count`), never a mount the store does not know of.
    pub fn mount_layer(&self, reference: &str) -> Result<PathBuf> {
        let (id, read_write) = self.write(|conn| {
            let id = records::resolve(conn, reference)?;
            let layer = records::get(conn, &id)?.ok_or_else(|| Error::LayerNotFound(id.clone()))?;
            let count = count(conn, &id)?;
            set_count(conn, &id, count + 1)?;
            Ok((id, layer.read_write))
        })?;
        let mounted = self.write(|conn| {
            // Someone may have dropped our count meanwhile; we still hold it.
            if count(conn, &id)? == 0 {
                set_count(conn, &id, 1)?;
            }
            self.driver.mount(&id, read_write)
        });
        if mounted.is_err() {
            let _ = self.write(|conn| {
                let count = count(conn, &id)?;
                set_count(conn, &id, count.saturating_sub(1))
            });
        }
        mounted
    }

    /// Fails if the kernel has anything mounted on layer `id`'s
    /// directories that its mount count does not account for.
    pub(crate) fn check_not_kernel_mounted(&self, id: &str) -> Result<()> {
        let dir = self.driver.data_dir(id);
        if !dir.exists() {
            return Ok(());
        }
        match mountinfo::mounts_under(&dir)?.into_iter().next() {
            Some(point) => Err(Error::KernelMounted {
                id: id.to_string(),
                mount_point: point.display().to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Drops one mount of a layer; the last one unmounts it. Returns the
    /// mounts left.
    pub fn unmount_layer(&self, reference: &str) -> Result<u64> {
        self.write(|conn| {
            let id = records::resolve(conn, reference)?;
            let count = count(conn, &id)?;
            if count == 0 {
                return Err(Error::NotMounted(id));
            }
            if count == 1 {
                self.driver.unmount(&id)?;
            }
            set_count(conn, &id, count - 1)?;
            Ok(count - 1)
        })
    }

    /// How many times a layer is mounted.
    pub fn mount_count(&self, reference: &str) -> Result<u64> {
        let conn = self.conn();
        let id = records::resolve(&conn, reference)?;
        count(&conn, &id)
    }
}

/// Layers with a mount count in this boot, and their counts.
fn counted(conn: &Connection) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT layer_id, count FROM mounts WHERE count > 0 AND boot_id = ?1 ORDER BY layer_id",
    )?;
    let rows = stmt
        .query_map([boot_id()], |row| {
            Ok((row.get(0)?, row.get::<_, i64>(1)?.max(0) as u64))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

impl Store {
    /// Compares the kernel's mounts under the store root with the mount
    /// counts: a mount no count accounts for is `uncounted-mount` (a
    /// process killed between mounting and counting, or a mount made
    /// behind the store's back; repaired by unmounting it), a count whose
    /// layer the kernel has not mounted is `stale-mount-count` (repaired by
    /// dropping the count). Drivers whose mounts are plain directories
    /// have no stale counts.
    pub(crate) fn check_mounts(&self, repair: bool) -> Result<Vec<FsckIssue>> {
        let points = mountinfo::mounts_under(&self.root)?;
        let counted = counted(&self.conn())?;
        let covered: Vec<PathBuf> = counted
            .iter()
            .map(|(id, _)| mountinfo::resolved(&self.driver.data_dir(id)))
            .collect();
        let root = mountinfo::resolved(&self.root);
        let mut issues = Vec::new();
        // Only mounts on or under a layer's directory: the store's root or
        // driver directory may well be mount points of their own.
        for point in points
            .iter()
            .filter(|p| !covered.iter().any(|d| p.starts_with(d)))
        {
            let Some(id) = point
                .strip_prefix(&root)
                .unwrap_or(point)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .find(|name| records::is_id(name))
                .filter(|id| point.starts_with(mountinfo::resolved(&self.driver.data_dir(id))))
            else {
                continue;
            };
            issues.push(FsckIssue {
                kind: "uncounted-mount".into(),
                id,
                detail: format!(
                    "{} is mounted, but the store counts no mount of it",
                    point.display()
                ),
                repaired: repair && mountinfo::unmount(point).is_ok(),
            });
        }
        for (id, count) in counted {
            let Some(point) = self.driver.mount_point(&id) else {
                continue;
            };
            if points.contains(&mountinfo::resolved(&point)) {
                continue;
            }
            issues.push(FsckIssue {
                kind: "stale-mount-count".into(),
                detail: format!(
                    "counted {count} times, but {} is not mounted",
                    point.display()
                ),
                repaired: repair && self.drop_stale_count(&id, &point)?,
                id,
            });
        }
        Ok(issues)
    }

    /// Drops the count of layer `id` if, looked at again inside the write
    /// transaction that serializes mounts, `point` is still not mounted.
    fn drop_stale_count(&self, id: &str, point: &Path) -> Result<bool> {
        self.write(|conn| {
            let resolved = mountinfo::resolved(point);
            if mountinfo::mounts_under(point)?.contains(&resolved) {
                return Ok(false);
            }
            forget(conn, id)?;
            Ok(true)
        })
    }
}
