//! Cleaning up after processes that died while changing the store: their
//! half-made layers are removed, their half-deleted layers finished off,
//! and their work directories emptied. Runs whenever the store is opened;
//! costs one indexed query and two small directory listings.

use std::collections::HashSet;

use super::Store;
use super::layer::LayerState;
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
}

impl Store {
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
        for parent in [self.staging_dir(), self.trash_dir()] {
            workdir::remove_abandoned_pending(&parent)?;
            for name in workdir::list(&parent)?
                .into_iter()
                .filter(|n| !referenced.contains(n))
            {
                if let Owner::Dead(Some(work)) = WorkDir::adopt(&parent, &name)? {
                    work.remove()?;
                    done.work_dirs.push(name);
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
