//! The store: layer records in SQLite, layer data in a driver, tar-split
//! metadata beside them, and the crash-safety rules that tie them together.
//!
//! ```text
//! <root>/strata.db                    records and state transitions (WAL)
//! <root>/layers/<id>/tar-split.json.gz
//! <root>/blobs/sha256/<hex>            configs and manifests of images
//! <root>/downloads/<hex>              compressed blobs a pull is fetching (resumable)
//! <root>/staging/<random>/            a layer being made; <random>.lock held by its owner
//! <root>/trash/<random>/              a layer being deleted; <random>.lock held by its owner
//! <root>/vfs/<id>/                    the vfs driver's data
//! ```
//!
//! A layer row is `creating` while its data is prepared in a staging
//! directory, becomes `ready` in one short transaction once data and
//! tar-split are durable and in place, and goes through `deleting` (data
//! moved to trash first, row removed last) when deleted. Only `ready` rows
//! are visible. Whoever opens the store finishes or undoes the work of
//! processes that died, recognised by the free lock of their work directory.
//!
//! Containers (a read-write layer on a base layer, plus a record) follow
//! the same rules; see the `containers` module. What no image, container,
//! name or lease reaches is garbage, which [`Store::gc`] collects and
//! [`Store::fsck`] reports (module `gc`).

// The Store's methods, in the order rustdoc lists them (modules in
// declaration order): what a caller does first comes first.
mod open;
mod open_read;
// Looking at one without opening it.
mod describe;
// Moving images in and out.
mod transfer;
// Images.
mod image_names;
mod images;
mod indexes;
// Their configs, manifests and history.
mod history;
mod image_mounts;
mod image_views;
// Containers.
mod containers;
// Images from containers and from root file system tars.
mod commit;
// Making layers.
mod import;
mod import_streams;
// Reading them.
mod diff;
// Mounting them.
mod mounts;
// Deleting them.
mod delete;
// Leases.
mod leases;
// Upkeep.
mod downloads;
mod fsck;
mod gc;
mod kept_blobs;
mod prune;
mod uploads;
mod usage;

// Internals.
mod blob_sources;
mod blobs;
mod db;
mod layer;
mod mountinfo;
mod options;
mod records;
mod recovery;
mod root_check;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior};

pub(crate) use blob_sources::BlobSource;
pub use commit::CommitOptions;
pub use containers::{Container, ContainerOptions};
pub use describe::StoreDescription;
pub use diff::{DiffFormat, DiffOptions, DiffReport};
pub(crate) use downloads::Download;
pub use downloads::{DOWNLOAD_EXPIRY, Downloads};
pub use fsck::{FsckIssue, FsckReport, Status};
pub use gc::{GcOptions, GcReport};
pub use history::HistoryStep;
pub use image_names::local_name;
pub use images::{Image, NewImage, Removed, normalize_name};
pub use import::CreateOptions;
pub(crate) use import_streams::Vouched;
pub use indexes::ImageIndex;
pub use kept_blobs::KeptBlobs;
pub use layer::{Layer, LayerState};
pub use leases::{Lease, LeaseOptions};
pub(crate) use options::ResolvedOptions;
pub use options::StoreOptions;
pub use prune::{PruneOptions, PruneReport, SystemPruneReport};
pub use transfer::ToSaveItems;
pub use uploads::Upload;
pub use usage::{ContainerUsage, DiskUsage, ImageUsage};

use crate::driver::{self, Driver};
use crate::error::{Error, Result};
use crate::fs::workdir;

/// The drivers a new store tries, in order, when none is asked for.
pub const DEFAULT_DRIVERS: [&str; 2] = ["overlay", "vfs"];

/// An open store. Cheap to share between threads; any number of processes
/// may open the same store at once.
pub struct Store {
    root: PathBuf,
    runroot: PathBuf,
    driver: Box<dyn Driver>,
    db: Mutex<Connection>,
    /// The owner of a store opened to read only (`Store::open_to_read`).
    read_only: Option<String>,
}

impl Store {
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in one short write transaction.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.check_writable()?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    fn staging_dir(&self) -> PathBuf {
        self.root.join("staging")
    }

    fn trash_dir(&self) -> PathBuf {
        self.root.join("trash")
    }

    fn meta_dir(&self, id: &str) -> PathBuf {
        self.root.join("layers").join(id)
    }

    fn tar_split_path(&self, id: &str) -> PathBuf {
        self.meta_dir(id).join(TAR_SPLIT)
    }

    /// Looks a layer up by full id, name or unique id prefix.
    pub fn layer(&self, reference: &str) -> Result<Layer> {
        let conn = self.conn();
        let id = records::resolve(&conn, reference)?;
        records::get(&conn, &id)?.ok_or(Error::LayerNotFound(id))
    }

    /// Every layer, oldest first.
    pub fn layers(&self) -> Result<Vec<Layer>> {
        records::list(&self.conn())
    }

    /// The layers directly on top of `reference`.
    pub fn children(&self, reference: &str) -> Result<Vec<Layer>> {
        let conn = self.conn();
        let id = records::resolve(&conn, reference)?;
        let mut out = Vec::new();
        for child in records::children(&conn, &id)? {
            if let Some(layer) =
                records::get(&conn, &child)?.filter(|l| l.state == LayerState::Ready)
            {
                out.push(layer);
            }
        }
        Ok(out)
    }

    /// The layers no other layer is on top of.
    pub fn heads(&self) -> Result<Vec<Layer>> {
        let layers = self.layers()?;
        let parents: std::collections::HashSet<&str> =
            layers.iter().filter_map(|l| l.parent.as_deref()).collect();
        Ok(layers
            .iter()
            .filter(|l| !parents.contains(l.id.as_str()))
            .cloned()
            .collect())
    }

    /// Gives the layer exactly these names (taken from other layers that had them).
    pub fn set_names(&self, reference: &str, names: &[String]) -> Result<Layer> {
        self.update(reference, |conn, id| records::set_names(conn, id, names))
    }

    /// Adds names (taken from other layers that had them).
    pub fn add_names(&self, reference: &str, names: &[String]) -> Result<Layer> {
        self.update(reference, |conn, id| records::add_names(conn, id, names))
    }

    /// Removes names.
    pub fn remove_names(&self, reference: &str, names: &[String]) -> Result<Layer> {
        self.update(reference, |conn, id| records::remove_names(conn, id, names))
    }

    /// Sets the caller's metadata string.
    pub fn set_metadata(&self, reference: &str, metadata: &str) -> Result<Layer> {
        self.update(reference, |conn, id| {
            records::set_metadata(conn, id, metadata)
        })
    }

    /// Sets a flag.
    pub fn set_flag(&self, reference: &str, key: &str, value: serde_json::Value) -> Result<Layer> {
        self.update_flags(reference, |flags| {
            flags.insert(key.to_string(), value);
        })
    }

    /// Clears a flag.
    pub fn clear_flag(&self, reference: &str, key: &str) -> Result<Layer> {
        self.update_flags(reference, |flags| {
            flags.remove(key);
        })
    }

    fn update_flags(
        &self,
        reference: &str,
        f: impl FnOnce(&mut BTreeMap<String, serde_json::Value>),
    ) -> Result<Layer> {
        self.update(reference, |conn, id| {
            let mut layer =
                records::get(conn, id)?.ok_or_else(|| Error::LayerNotFound(id.to_string()))?;
            f(&mut layer.flags);
            records::set_flags(conn, id, &layer.flags)
        })
    }

    /// Resolves `reference` and applies `f` in one transaction; returns the
    /// updated layer.
    fn update(
        &self,
        reference: &str,
        f: impl FnOnce(&Connection, &str) -> Result<()>,
    ) -> Result<Layer> {
        self.write(|conn| {
            let id = records::resolve(conn, reference)?;
            f(conn, &id)?;
            records::get(conn, &id)?.ok_or(Error::LayerNotFound(id))
        })
    }
}

/// Name of a layer's tar-split file under `layers/<id>/`.
const TAR_SPLIT: &str = "tar-split.json.gz";

/// Opens the store's driver: the one it was created with (checked against
/// the one asked for), or for a new store the one asked for, else the
/// first default that works here; a new store records its choice.
fn settle_driver(conn: &Connection, options: &ResolvedOptions) -> Result<Box<dyn Driver>> {
    let requested = options.driver.clone();
    if let Some(name) = requested.as_deref().filter(|n| !driver::is_known(n)) {
        return Err(Error::UnknownDriver(name.to_string()));
    }
    let recorded = recorded_driver(conn)?;
    let mismatch = |existing: String, requested: String| Error::DriverMismatch {
        root: options.root.display().to_string(),
        existing,
        requested,
    };
    if let (Some(existing), Some(requested)) = (&recorded, &requested)
        && existing != requested
    {
        return Err(mismatch(existing.clone(), requested.clone()));
    }
    let candidates: Vec<&str> = match (&recorded, &requested) {
        (Some(name), _) | (None, Some(name)) => vec![name.as_str()],
        (None, None) => DEFAULT_DRIVERS.to_vec(),
    };
    let mut last_error = None;
    for name in candidates {
        match open_driver(name, options) {
            Ok(driver) => {
                if recorded.is_none() {
                    conn.execute(
                        "INSERT OR IGNORE INTO settings (key, value) VALUES ('driver', ?1)",
                        [name],
                    )?;
                    // Another process may have created the store first.
                    let settled = recorded_driver(conn)?.unwrap_or_default();
                    if settled != name {
                        return Err(mismatch(settled, name.to_string()));
                    }
                }
                return Ok(driver);
            }
            Err(e @ Error::DriverUnsupported { .. }) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| Error::UnknownDriver(String::new())))
}

fn recorded_driver(conn: &Connection) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT value FROM settings WHERE key = 'driver'",
            [],
            |row| row.get(0),
        )
        .optional()?)
}

/// Opens driver `name`; a driver that probes does so in a work directory
/// under `staging/`, made only then and removed after.
fn open_driver(name: &str, options: &ResolvedOptions) -> Result<Box<dyn Driver>> {
    let mut probe = None;
    let opened = driver::open(name, &options.root, &options.runroot, &mut || {
        let work = probe.insert(workdir::WorkDir::create(&options.root.join("staging"))?);
        Ok(work.path().to_path_buf())
    });
    if let Some(work) = probe {
        work.remove()?;
    }
    opened
}
