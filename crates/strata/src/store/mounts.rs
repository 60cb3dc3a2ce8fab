//! Mount reference counts. They live in the database tagged with the boot
//! id, so they survive the process that mounted but not a reboot (which
//! undoes every mount): a count from another boot reads as zero.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, records};
use crate::error::{Error, Result};

/// This boot's id (`/proc/sys/kernel/random/boot_id`).
fn boot_id() -> String {
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
    pub fn mount_layer(&self, reference: &str) -> Result<PathBuf> {
        self.write(|conn| {
            let id = records::resolve(conn, reference)?;
            let layer = records::get(conn, &id)?.ok_or_else(|| Error::LayerNotFound(id.clone()))?;
            let path = self.driver.mount(&id, layer.read_write)?;
            let count = count(conn, &id)?;
            set_count(conn, &id, count + 1)?;
            Ok(path)
        })
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
