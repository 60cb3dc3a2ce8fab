//! Leases: holds on layers by an operation in progress (a load, a copy),
//! so that removing an image elsewhere leaves them alone, and so that an
//! operation that fails or dies takes back exactly the layers it made.
//!
//! A lease is a row owned by a locked work directory, like a layer being
//! made. Layers it made or reused are recorded against it; an image made
//! from them protects them from then on. Releasing the lease deletes the
//! layers it made that nothing else uses; after a crash, the next process
//! to open the store does that for the dead owner.

use rusqlite::{Connection, OptionalExtension, params};

use super::layer::now_rfc3339;
use super::{Store, records};
use crate::error::{Error, Result};
use crate::fs::random_hex;
use crate::fs::workdir::{Owner, WorkDir};

/// A hold on layers by an operation in progress.
pub struct Lease {
    id: String,
    work: WorkDir,
}

impl Lease {
    /// The lease's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A directory the lease's owner may use for temporary files; it goes
    /// with the lease.
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.work.path()
    }
}

impl Store {
    /// Starts a lease.
    pub fn lease(&self) -> Result<Lease> {
        let work = WorkDir::create(&self.staging_dir())?;
        let id = random_hex(16);
        let inserted = self.write(|conn| {
            conn.prepare_cached("INSERT INTO leases (id, work_dir, created) VALUES (?1, ?2, ?3)")?
                .execute(params![id, work.name(), now_rfc3339()])?;
            Ok(())
        });
        match inserted {
            Ok(()) => Ok(Lease { id, work }),
            Err(e) => {
                work.remove()?;
                Err(e)
            }
        }
    }

    /// Holds layer `id` under `lease` if it exists and is ready; returns
    /// whether it did.
    pub fn hold_layer(&self, lease: &Lease, id: &str) -> Result<bool> {
        self.write(|conn| {
            if records::state(conn, id)? != Some(super::LayerState::Ready) {
                return Ok(false);
            }
            hold(conn, &lease.id, id, false)?;
            Ok(true)
        })
    }

    /// Ends `lease`: the layers it made that no image, container, other
    /// lease or child uses are deleted. Returns their ids.
    pub fn release(&self, lease: Lease) -> Result<Vec<String>> {
        let collected = self.release_rows(&lease.id)?;
        lease.work.remove()?;
        Ok(collected)
    }

    fn release_rows(&self, lease: &str) -> Result<Vec<String>> {
        let made = self.write(|conn| {
            let made = made_by(conn, lease)?;
            conn.prepare_cached("DELETE FROM lease_layers WHERE lease_id = ?1")?
                .execute([lease])?;
            conn.prepare_cached("DELETE FROM leases WHERE id = ?1")?
                .execute([lease])?;
            Ok(made)
        })?;
        self.collect_layers(&made, false)
    }

    /// Releases the leases of dead processes.
    pub(crate) fn recover_leases(&self) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached("SELECT id, work_dir FROM leases")?;
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut collected = Vec::new();
        for (lease, work_dir) in rows {
            let Owner::Dead(work) = WorkDir::adopt(&self.staging_dir(), &work_dir)? else {
                continue;
            };
            collected.extend(self.release_rows(&lease)?);
            if let Some(work) = work {
                work.remove()?;
            }
        }
        Ok(collected)
    }

    /// Deletes the layers among `ids` that nothing uses, and with
    /// `walk_down` their parents in turn while nothing uses them either.
    /// Named layers are kept: someone asked for them by name.
    pub(crate) fn collect_layers(&self, ids: &[String], walk_down: bool) -> Result<Vec<String>> {
        let mut pending: Vec<String> = ids.to_vec();
        let mut deleted = Vec::new();
        loop {
            let before = deleted.len();
            let mut still = Vec::new();
            for id in std::mem::take(&mut pending) {
                match self.delete_unused_layer(&id)? {
                    Some(parent) => {
                        deleted.push(id);
                        if let Some(parent) = parent.filter(|_| walk_down) {
                            still.push(parent);
                        }
                    }
                    None => still.push(id),
                }
            }
            pending = still;
            if deleted.len() == before || pending.is_empty() {
                return Ok(deleted);
            }
        }
    }
}

/// Fails unless `lease` still has its row (recovery takes the rows of
/// leases whose owner it believes dead).
pub(crate) fn check_live(conn: &Connection, lease: &Lease) -> Result<()> {
    check_exists(conn, &lease.id)
}

fn check_exists(conn: &Connection, lease: &str) -> Result<()> {
    let exists: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM leases WHERE id = ?1")?
        .query_row([lease], |row| row.get(0))
        .optional()?;
    match exists {
        Some(_) => Ok(()),
        None => Err(Error::Invalid(format!("lease {lease} does not exist"))),
    }
}

/// Records that `lease` holds `layer` (`made` when the lease made it).
pub(crate) fn hold(conn: &Connection, lease: &str, layer: &str, made: bool) -> Result<()> {
    check_exists(conn, lease)?;
    let kind = if made { "made" } else { "held" };
    conn.prepare_cached(
        "INSERT OR IGNORE INTO lease_layers (lease_id, layer_id, kind) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![lease, layer, kind])?;
    Ok(())
}

fn made_by(conn: &Connection, lease: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT layer_id FROM lease_layers WHERE lease_id = ?1 AND kind = 'made' ORDER BY layer_id",
    )?;
    let ids = stmt
        .query_map([lease], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// A lease holding `layer`, if any.
pub(crate) fn holder_of(conn: &Connection, layer: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT lease_id FROM lease_layers WHERE layer_id = ?1 LIMIT 1")?
        .query_row([layer], |row| row.get(0))
        .optional()?)
}
