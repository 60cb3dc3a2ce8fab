//! Cleaning up after processes that died while changing the store: their
//! half-made layers are removed, their half-deleted layers finished off,
//! and their work directories emptied. Runs whenever the store is opened;
//! costs one indexed query and two small directory listings.
//!
//! What recovery did is appended to the `recovery_log` table, since it
//! happens silently inside [`Store::open`]; the next fsck reports the log
//! and then clears it.

use std::collections::HashSet;

use rusqlite::params;

use super::Store;
use super::layer::{LayerState, now_rfc3339};
use super::records;
use crate::error::Result;
use crate::fs::durable::rename_durable;
use crate::fs::workdir::{self, Owner, WorkDir};

/// What recovery did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Recovered {
    /// Layers whose dead owner left them half made or half deleted.
    pub layers: Vec<String>,
    /// Work directories left by dead processes.
    pub work_dirs: Vec<String>,
    /// Containers whose dead creator left them half made.
    pub containers: Vec<String>,
    /// Leases of dead processes, released.
    pub leases: Vec<String>,
    /// Layers those leases made that nothing else used, deleted.
    pub lease_layers: Vec<String>,
}

impl Recovered {
    /// Whether recovery did nothing.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
            && self.work_dirs.is_empty()
            && self.containers.is_empty()
            && self.leases.is_empty()
            && self.lease_layers.is_empty()
    }

    /// One `(kind, id, detail)` per thing done, as the log keeps them.
    fn entries(&self) -> Vec<(&'static str, &str, &'static str)> {
        let kinds: [(&'static str, &Vec<String>, &'static str); 5] = [
            (
                "unfinished-layer",
                &self.layers,
                "half made or half deleted by a process that died",
            ),
            (
                "orphan-work-dir",
                &self.work_dirs,
                "work directory without a live owner",
            ),
            (
                "unfinished-container",
                &self.containers,
                "half made by a process that died",
            ),
            ("dead-lease", &self.leases, "lease of a process that died"),
            (
                "dead-lease-layer",
                &self.lease_layers,
                "made under a dead process's lease and used by nothing",
            ),
        ];
        kinds
            .into_iter()
            .flat_map(|(kind, ids, detail)| ids.iter().map(move |id| (kind, id.as_str(), detail)))
            .collect()
    }
}

/// One thing recovery did, as logged.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecoveryEntry {
    /// When (RFC 3339 UTC).
    pub at: String,
    /// What kind of thing: `unfinished-layer`, `orphan-work-dir`,
    /// `unfinished-container`, `dead-lease`, `dead-lease-layer`.
    pub kind: String,
    /// The layer, container, lease or work directory concerned.
    pub id: String,
    /// What it was.
    pub detail: String,
}

impl Store {
    /// Every recovery (layers, containers, leases), logged in
    /// `recovery_log` when it did something.
    pub(crate) fn recover_all(&self) -> Result<Recovered> {
        let mut done = self.recover()?;
        done.containers = self.recover_containers()?;
        (done.leases, done.lease_layers) = self.recover_leases()?;
        if !done.is_empty() {
            let at = now_rfc3339();
            self.write(|conn| {
                for (kind, id, detail) in done.entries() {
                    conn.prepare_cached(
                        "INSERT INTO recovery_log (at, kind, id, detail) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![at, kind, id, detail])?;
                }
                Ok(())
            })?;
        }
        Ok(done)
    }

    /// The recovery log, oldest first, emptied as it is read.
    pub(crate) fn take_recovery_log(&self) -> Result<Vec<RecoveryEntry>> {
        self.write(|conn| {
            let entries: Vec<(i64, RecoveryEntry)> = conn
                .prepare_cached("SELECT seq, at, kind, id, detail FROM recovery_log ORDER BY seq")?
                .query_map([], |row| {
                    Ok((
                        row.get(0)?,
                        RecoveryEntry {
                            at: row.get(1)?,
                            kind: row.get(2)?,
                            id: row.get(3)?,
                            detail: row.get(4)?,
                        },
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            if let Some((last, _)) = entries.last() {
                conn.prepare_cached("DELETE FROM recovery_log WHERE seq <= ?1")?
                    .execute([last])?;
            }
            Ok(entries.into_iter().map(|(_, e)| e).collect())
        })
    }

    /// Finishes or undoes what dead processes left behind.
    pub(crate) fn recover(&self) -> Result<Recovered> {
        let unfinished = records::unfinished(&self.conn())?;
        self.recover_rows(unfinished)
    }

    /// [`Store::recover`] from a list of unfinished rows read earlier, which
    /// may be stale by the time their owners' locks are checked.
    fn recover_rows(
        &self,
        unfinished: Vec<(String, LayerState, Option<String>)>,
    ) -> Result<Recovered> {
        let mut done = Recovered::default();
        let mut referenced = HashSet::new();
        for (id, state, work_dir) in unfinished {
            let parent = match state {
                LayerState::Deleting => self.trash_dir(),
                _ => self.staging_dir(),
            };
            let owner = match &work_dir {
                Some(name) => {
                    referenced.insert(name.clone());
                    WorkDir::adopt(&parent, name)?
                }
                None => Owner::Dead(None),
            };
            let Owner::Dead(work) = owner else { continue };
            if !records::still_unfinished(&self.conn(), "layers", &id, work_dir.as_deref())? {
                // Its owner finished meanwhile; an orphaned work directory
                // is swept below or by the next opener.
                continue;
            }
            self.discard(&id, work)?;
            done.layers.push(id);
        }
        for (label, parent) in [("staging", self.staging_dir()), ("trash", self.trash_dir())] {
            workdir::remove_abandoned_pending(&parent)?;
            for name in workdir::list(&parent)?
                .into_iter()
                .filter(|n| !referenced.contains(n))
            {
                if let Owner::Dead(Some(work)) = WorkDir::adopt(&parent, &name)? {
                    work.remove()?;
                    done.work_dirs.push(format!("{label}/{name}"));
                }
            }
        }
        Ok(done)
    }

    /// Removes every trace of layer `id`: driver data, tar-split, row, and
    /// the work directory `work` (which we own).
    pub(crate) fn discard(&self, id: &str, work: Option<WorkDir>) -> Result<()> {
        let work = match work {
            Some(work) => work,
            None => WorkDir::create(&self.trash_dir())?,
        };
        self.driver.retire(id, work.path())?;
        let meta = self.meta_dir(id);
        if meta.exists() {
            rename_durable(&meta, &work.path().join("meta"))?;
        }
        self.write(|conn| records::delete(conn, id))?;
        work.remove()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, StoreOptions};

    /// The race the second look closes: recovery read a `creating` row,
    /// then its owner made the layer ready and removed its work directory
    /// (lock included) before recovery checked the lock.
    #[test]
    fn a_layer_finished_after_the_first_look_is_left_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&StoreOptions {
            root: Some(dir.path().join("root")),
            runroot: Some(dir.path().join("run")),
            driver: Some("vfs".into()),
        })
        .expect("open");
        let layer = store
            .create_layer(&CreateOptions::default())
            .expect("layer");
        let stale = vec![(layer.id.clone(), LayerState::Creating, Some("gone".into()))];
        let done = store.recover_rows(stale).expect("recover");
        assert!(done.layers.is_empty(), "{done:?}");
        assert_eq!(store.layer(&layer.id).expect("still there").id, layer.id);
    }
}
