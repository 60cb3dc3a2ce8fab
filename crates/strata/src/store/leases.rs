//! Leases: holds on layers by an operation in progress (a load, a copy),
//! so that removing an image elsewhere leaves them alone, and so that an
//! operation that fails or dies takes back exactly the layers it made.
//!
//! A lease is a row owned by a locked work directory, like a layer being
//! made. Layers it made or reused are recorded against it; an image made
//! from them protects them from then on. Releasing the lease deletes the
//! layers it made that nothing else uses; after a crash, the next process
//! to open the store does that for the dead owner.
//!
//! A lease may expire: past its expiry time it protects nothing, and the
//! next garbage collection releases it even if its owner is still alive
//! (the owner's next use of it then fails, saying the lease is gone).
//! Blobs an operation writes before an image names them (configs and
//! manifests of a load) are held by its lease in `lease_blobs`, recorded
//! before the blob is written, so a concurrent collection leaves them alone;
//! releasing the lease removes those no image names by then.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use super::gc::Garbage;
use super::layer::now_rfc3339;
use super::{Store, records};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::fs::random_hex;
use crate::fs::workdir::{Owner, WorkDir};

/// How a lease is made.
#[derive(Debug, Clone, Default)]
pub struct LeaseOptions {
    /// How long the lease protects what it holds; forever (until released,
    /// or its owner dies) when absent.
    pub expires_in: Option<Duration>,
}

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
    /// Starts a lease that lasts until it is released (or its owner dies).
    pub fn lease(&self) -> Result<Lease> {
        self.lease_with(&LeaseOptions::default())
    }

    /// Starts a lease as `options` say.
    pub fn lease_with(&self, options: &LeaseOptions) -> Result<Lease> {
        let expires = options.expires_in.map(|after| {
            now_unix().saturating_add(i64::try_from(after.as_secs()).unwrap_or(i64::MAX))
        });
        let work = WorkDir::create(&self.staging_dir())?;
        let id = random_hex(16);
        let inserted = self.write(|conn| {
            conn.prepare_cached(
                "INSERT INTO leases (id, work_dir, created, expires) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, work.name(), now_rfc3339(), expires])?;
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

    /// Holds blobs `digests` under `lease`, before they are written, so
    /// that a collection running meanwhile keeps them.
    pub(crate) fn hold_blobs(&self, lease: &Lease, digests: &[Digest]) -> Result<()> {
        self.write(|conn| {
            check_live(conn, lease)?;
            for digest in digests {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO lease_blobs (lease_id, digest) VALUES (?1, ?2)",
                )?
                .execute(params![lease.id, digest.as_str()])?;
            }
            Ok(())
        })
    }

    /// Ends `lease`: the layers it made that no image, container, other
    /// lease or child uses are deleted. Returns their ids.
    pub fn release(&self, lease: Lease) -> Result<Vec<String>> {
        let collected = self.release_rows(&lease.id)?;
        lease.work.remove()?;
        Ok(collected)
    }

    /// Drops the rows of `lease`, then deletes the layers it made and the
    /// blobs it held that nothing else uses.
    fn release_rows(&self, lease: &str) -> Result<Vec<String>> {
        let (made, blobs) = self.write(|conn| drop_rows(conn, lease))?;
        for digest in blobs {
            self.sweep(&Garbage::Blob(digest))?;
        }
        self.collect_layers(&made, false)
    }

    /// Releases the leases of dead processes; returns them and the layers
    /// that went with them.
    pub(crate) fn recover_leases(&self) -> Result<(Vec<String>, Vec<String>)> {
        let rows: Vec<(String, String)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached("SELECT id, work_dir FROM leases")?;
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut released = Vec::new();
        let mut collected = Vec::new();
        for (lease, work_dir) in rows {
            let Owner::Dead(work) = WorkDir::adopt(&self.staging_dir(), &work_dir)? else {
                continue;
            };
            collected.extend(self.release_rows(&lease)?);
            if let Some(work) = work {
                work.remove()?;
            }
            released.push(lease);
        }
        Ok((released, collected))
    }

    /// Releases every lease past its expiry time, whether or not its owner
    /// is alive (its work directory stays: a live owner still uses it, and
    /// recovery removes a dead one's). Only the rows go: what the leases
    /// held is left for the collection that follows. Returns the leases.
    pub(crate) fn release_expired(&self) -> Result<Vec<String>> {
        let expired = expired(&self.conn(), now_unix())?;
        for lease in &expired {
            self.write(|conn| drop_rows(conn, lease))?;
        }
        Ok(expired)
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
    let expires: Option<Option<i64>> = conn
        .prepare_cached("SELECT expires FROM leases WHERE id = ?1")?
        .query_row([lease], |row| row.get(0))
        .optional()?;
    match expires {
        Some(Some(at)) if at <= now_unix() => Err(Error::LeaseExpired(lease.to_string())),
        Some(_) => Ok(()),
        None => Err(Error::LeaseNotFound(lease.to_string())),
    }
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Leases whose expiry time is `now` or earlier.
fn expired(conn: &Connection, now: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM leases WHERE expires IS NOT NULL AND expires <= ?1 ORDER BY id",
    )?;
    let ids = stmt
        .query_map([now], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
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

/// Deletes the rows of `lease`; returns the layers it made and the blobs it
/// held.
fn drop_rows(conn: &Connection, lease: &str) -> Result<(Vec<String>, Vec<Digest>)> {
    let made = made_by(conn, lease)?;
    let blobs = blobs_of(conn, lease)?;
    for sql in [
        "DELETE FROM lease_layers WHERE lease_id = ?1",
        "DELETE FROM lease_blobs WHERE lease_id = ?1",
        "DELETE FROM leases WHERE id = ?1",
    ] {
        conn.prepare_cached(sql)?.execute([lease])?;
    }
    Ok((made, blobs))
}

/// The blobs `lease` holds.
fn blobs_of(conn: &Connection, lease: &str) -> Result<Vec<Digest>> {
    let mut stmt =
        conn.prepare_cached("SELECT digest FROM lease_blobs WHERE lease_id = ?1 ORDER BY digest")?;
    let texts: Vec<String> = stmt
        .query_map([lease], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(texts
        .iter()
        .filter_map(|text| Digest::parse(text).ok())
        .collect())
}

/// A lease holding `layer`, if any.
pub(crate) fn holder_of(conn: &Connection, layer: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT lease_id FROM lease_layers WHERE layer_id = ?1 LIMIT 1")?
        .query_row([layer], |row| row.get(0))
        .optional()?)
}
