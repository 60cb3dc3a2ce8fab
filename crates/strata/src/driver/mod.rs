//! Storage drivers: how layer data lives on disk. The store owns records,
//! names and crash safety; a driver owns the directories of layer data.
//!
//! A new layer's data is prepared inside a work directory, then published
//! with [`Driver::commit`]; a deleted layer's data is first moved into a
//! work directory with [`Driver::retire`]. Both are renames, so a crash
//! leaves either the whole layer or nothing in the driver's own directory.

pub mod copy;
pub mod overlay_mount;
pub mod vfs;

use std::path::{Path, PathBuf};

use crate::error::Result;

/// A storage driver.
pub trait Driver: Send + Sync {
    /// The driver's name (`vfs`, `overlay`).
    fn name(&self) -> &'static str;

    /// Prepares the data of a new layer on top of `parent` inside the work
    /// directory `work`; returns the directory to apply the layer tar into.
    fn prepare(&self, work: &Path, parent: Option<&str>) -> Result<PathBuf>;

    /// Publishes the data prepared in `work` as layer `id`.
    fn commit(&self, work: &Path, id: &str) -> Result<()>;

    /// Moves layer `id`'s data into `work` (nothing if it has none).
    fn retire(&self, id: &str, work: &Path) -> Result<()>;

    /// The directory holding layer `id`'s own files under the names its tar
    /// used, for reassembly from tar-split.
    fn files_dir(&self, id: &str) -> PathBuf;

    /// Makes layer `id`'s full tree available; returns where.
    fn mount(&self, id: &str) -> Result<PathBuf>;

    /// Undoes [`Driver::mount`].
    fn unmount(&self, id: &str) -> Result<()>;

    /// Whether layer `id` has data.
    fn exists(&self, id: &str) -> bool;

    /// Ids of every layer with data.
    fn list(&self) -> Result<Vec<String>>;
}

/// Drivers this build has.
pub const DRIVERS: &[&str] = &["vfs"];

/// Whether `name` is a driver this build has.
pub fn is_known(name: &str) -> bool {
    DRIVERS.contains(&name)
}

/// Opens the driver `name` with its data under `root`.
pub fn open(name: &str, root: &Path) -> Result<Box<dyn Driver>> {
    match name {
        "vfs" => Ok(Box::new(vfs::Vfs::open(root)?)),
        other => Err(crate::error::Error::UnknownDriver(other.to_string())),
    }
}
