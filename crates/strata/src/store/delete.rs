//! Deleting layers: refused while a container uses a layer (as its base or
//! its read-write layer), while it has children or is mounted; otherwise
//! the row turns `deleting`, the data moves to trash, the row goes last. A
//! crash at any point leaves a `deleting` row that the next process to open
//! the store finishes off.

use super::Store;
use super::workdir::WorkDir;
use super::{containers, mounts, records};
use crate::error::{Error, Result};

impl Store {
    /// Deletes a layer.
    pub fn delete_layer(&self, reference: &str) -> Result<()> {
        let work = WorkDir::create(&self.trash_dir())?;
        let marked = self.write(|conn| {
            let id = records::resolve(conn, reference)?;
            if let Some(container) = containers::user_of(conn, &id)? {
                return Err(Error::UsedByContainer {
                    layer: id,
                    container,
                });
            }
            let children = records::children(conn, &id)?;
            if !children.is_empty() {
                return Err(Error::HasChildren { id, children });
            }
            let count = mounts::count(conn, &id)?;
            if count > 0 {
                return Err(Error::Mounted { id, count });
            }
            records::mark_deleting(conn, &id, work.name())?;
            Ok(id)
        });
        match marked {
            Ok(id) => self.discard(&id, Some(work)),
            Err(e) => {
                work.remove()?;
                Err(e)
            }
        }
    }

    /// Deletes every container and every layer, unmounting those that are
    /// mounted. Returns the ids of the layers deleted (containers' read-write
    /// layers included).
    pub fn wipe(&self) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        for container in self.containers()? {
            self.delete_container(&container.id, true)?;
            deleted.push(container.layer);
        }
        loop {
            let heads = self.heads()?;
            if heads.is_empty() {
                return Ok(deleted);
            }
            for layer in heads {
                self.write(|conn| mounts::forget(conn, &layer.id))?;
                self.driver.unmount(&layer.id)?;
                self.delete_layer(&layer.id)?;
                deleted.push(layer.id);
            }
        }
    }
}
