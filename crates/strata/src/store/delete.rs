//! Deleting layers: refused while a layer has children or is mounted;
//! otherwise the row turns `deleting`, the data moves to trash, the row goes
//! last. A crash at any point leaves a `deleting` row that the next process
//! to open the store finishes off.

use super::Store;
use super::workdir::WorkDir;
use super::{mounts, records};
use crate::error::{Error, Result};

impl Store {
    /// Deletes a layer.
    pub fn delete_layer(&self, reference: &str) -> Result<()> {
        let work = WorkDir::create(&self.trash_dir())?;
        let marked = self.write(|conn| {
            let id = records::resolve(conn, reference)?;
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

    /// Deletes every layer, unmounting those that are mounted. Returns the
    /// ids deleted.
    pub fn wipe(&self) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
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
