//! Deleting layers: refused while an image has the layer on top, an
//! operation in progress holds it, a container uses it (as its base or its
//! read-write layer), or while it has children or is mounted (by the
//! store's count, or by the kernel whatever the count says); otherwise
//! the row turns `deleting`, the data moves to trash, the row goes last. A
//! crash at any point leaves a `deleting` row that the next process to open
//! the store finishes off.

use rusqlite::Connection;

use super::Store;
use super::layer::LayerState;
use super::{containers, images, leases, mounts, records};
use crate::error::{Error, Result};
use crate::fs::workdir::WorkDir;

impl Store {
    /// Deletes a layer.
    pub fn delete_layer(&self, reference: &str) -> Result<()> {
        let work = WorkDir::create(&self.trash_dir())?;
        let marked = self.write(|conn| {
            let id = records::resolve(conn, reference)?;
            self.check_unused(conn, &id)?;
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

    /// Deletes layer `id` if it is ready, unnamed and nothing uses it.
    /// Returns `Some(parent)` when it was deleted, `None` when it was kept.
    pub(crate) fn delete_unused_layer(&self, id: &str) -> Result<Option<Option<String>>> {
        let work = WorkDir::create(&self.trash_dir())?;
        let marked = self.write(|conn| {
            let Some(layer) = records::get(conn, id)? else {
                return Ok(None);
            };
            if layer.state != LayerState::Ready || !layer.names.is_empty() {
                return Ok(None);
            }
            match self.check_unused(conn, id) {
                Ok(()) => {
                    records::mark_deleting(conn, id, work.name())?;
                    Ok(Some(layer.parent))
                }
                Err(
                    Error::UsedByImage { .. }
                    | Error::LayerHeld(_)
                    | Error::UsedByContainer { .. }
                    | Error::HasChildren { .. }
                    | Error::Mounted { .. }
                    | Error::KernelMounted { .. },
                ) => Ok(None),
                Err(e) => Err(e),
            }
        });
        match marked {
            Ok(Some(parent)) => {
                self.discard(id, Some(work))?;
                Ok(Some(parent))
            }
            Ok(None) => {
                work.remove()?;
                Ok(None)
            }
            Err(e) => {
                work.remove()?;
                Err(e)
            }
        }
    }

    /// Deletes every image, container and layer, unmounting those that
    /// are mounted. Returns the ids of the layers deleted (containers'
    /// read-write layers included).
    pub fn wipe(&self) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        for container in self.containers()? {
            self.delete_container(&container.id, true)?;
            deleted.push(container.layer);
        }
        for image in self.images()? {
            self.forget_image(&image.id)?;
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

impl Store {
    /// Fails with the reason layer `id` may not be deleted, if there is one.
    fn check_unused(&self, conn: &Connection, id: &str) -> Result<()> {
        check_unreferenced(conn, id)?;
        self.check_not_kernel_mounted(id)
    }
}

/// Fails if a record uses layer `id` (image, lease, container, child,
/// mount count).
fn check_unreferenced(conn: &Connection, id: &str) -> Result<()> {
    if let Some(image) = images::with_top_layer(conn, id)? {
        return Err(Error::UsedByImage {
            layer: id.to_string(),
            image,
        });
    }
    if leases::holder_of(conn, id)?.is_some() {
        return Err(Error::LayerHeld(id.to_string()));
    }
    if let Some(container) = containers::user_of(conn, id)? {
        return Err(Error::UsedByContainer {
            layer: id.to_string(),
            container,
        });
    }
    let children = records::children(conn, id)?;
    if !children.is_empty() {
        return Err(Error::HasChildren {
            id: id.to_string(),
            children,
        });
    }
    let count = mounts::count(conn, id)?;
    if count > 0 {
        return Err(Error::Mounted {
            id: id.to_string(),
            count,
        });
    }
    Ok(())
}
