//! Storage drivers: how layer data lives on disk. The store owns records,
//! names and crash safety; a driver owns the directories of layer data.
//!
//! A new layer's data is prepared inside a work directory, then published
//! with [`Driver::commit`]; a deleted layer's data is first moved into a
//! work directory with [`Driver::retire`]. Both are renames, so a crash
//! leaves either the whole layer or nothing in the driver's own directory.

pub mod host;
pub mod overlay;
pub mod overlay_mount;
pub mod vfs;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::archive::apply::WhiteoutMode;
use crate::error::Result;

/// A new layer's data, ready to be written.
pub struct Prepared {
    /// Where to apply the layer's tar.
    pub tree: PathBuf,
    /// How whiteouts are applied there.
    pub whiteouts: WhiteoutMode,
    /// The parent layers merged, for drivers whose tree holds only the
    /// layer's own changes.
    pub lower: Option<View>,
    /// Prepared ahead of its parents ([`Driver::prepare_ahead`]): the
    /// layer has parents that cannot be read yet.
    pub lower_later: bool,
}

/// A read-only view of a layer's full tree. A view that is a mount is
/// attached nowhere and goes away when dropped (or when the process dies).
pub struct View {
    path: PathBuf,
    mount: Option<Arc<OwnedFd>>,
}

impl View {
    /// A view that is a plain directory.
    pub fn directory(path: PathBuf) -> Self {
        Self { path, mount: None }
    }

    /// A view held by the descriptor of a detached mount's root.
    pub fn mount(fd: OwnedFd) -> Self {
        let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        Self {
            path,
            mount: Some(Arc::new(fd)),
        }
    }

    /// Where the tree can be read while the view lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor of a mount view's root.
    pub fn fd(&self) -> Option<Arc<OwnedFd>> {
        self.mount.clone()
    }
}

/// A storage driver.
pub trait Driver: Send + Sync {
    /// The driver's name (`vfs`, `overlay`).
    fn name(&self) -> &'static str;

    /// Prepares the data of a new layer on top of `parent` inside the work
    /// directory `work`.
    fn prepare(&self, work: &Path, parent: Option<&str>) -> Result<Prepared>;

    /// Whether [`Driver::prepare_ahead`] prepares layers.
    fn extracts_ahead(&self) -> bool {
        false
    }

    /// Prepares the data of a new layer whose parents are still being
    /// made, for drivers whose tree holds only the layer's own changes
    /// (`None` for the others): the tar is applied with
    /// [`Prepared::lower_later`], and [`Driver::attach_parent`] completes
    /// the layer once the parent is published.
    fn prepare_ahead(&self, _work: &Path) -> Result<Option<Prepared>> {
        Ok(None)
    }

    /// Sets the parent of a layer prepared with [`Driver::prepare_ahead`]
    /// in `work`, once that parent is published.
    fn attach_parent(&self, _work: &Path, _parent: Option<&str>) -> Result<()> {
        Ok(())
    }

    /// Publishes the data prepared in `work` as layer `id`.
    fn commit(&self, work: &Path, id: &str) -> Result<()>;

    /// Moves layer `id`'s data into `work` (nothing if it has none).
    fn retire(&self, id: &str, work: &Path) -> Result<()>;

    /// The directory holding layer `id`'s own files under the names its tar
    /// used, for reassembly from tar-split.
    fn files_dir(&self, id: &str) -> PathBuf;

    /// The directory holding everything of layer `id` (its files, and for
    /// drivers that mount, its mount point).
    fn data_dir(&self, id: &str) -> PathBuf;

    /// Where [`Driver::mount`] puts a kernel mount of layer `id`; `None`
    /// for drivers whose mounts are plain directories.
    fn mount_point(&self, id: &str) -> Option<PathBuf>;

    /// A private read-only view of layer `id`'s full tree.
    fn view(&self, id: &str) -> Result<View>;

    /// Makes layer `id`'s full tree available at a path (writable for a
    /// read-write layer); returns where. Mounting a mounted layer again
    /// returns the same place.
    fn mount(&self, id: &str, read_write: bool) -> Result<PathBuf>;

    /// Undoes [`Driver::mount`] (nothing if it is not mounted).
    fn unmount(&self, id: &str) -> Result<()>;

    /// Whether layer `id` has data.
    fn exists(&self, id: &str) -> bool;

    /// Ids of every layer with data.
    fn list(&self) -> Result<Vec<String>>;
}

/// Driver `name` of a store that is only read, as it is on disk: no
/// probe, nothing created.
pub fn open_existing(name: &str, root: &Path, runroot: &Path) -> Result<Box<dyn Driver>> {
    match name {
        "vfs" => Ok(Box::new(vfs::Vfs::existing(root))),
        "overlay" => Ok(Box::new(overlay::Overlay::existing(
            root,
            runroot,
            overlay_mount::KernelCalls,
        ))),
        other => Err(crate::error::Error::UnknownDriver(other.to_string())),
    }
}

/// Drivers this build has.
pub const DRIVERS: &[&str] = &["overlay", "vfs"];

/// Whether `name` is a driver this build has.
pub fn is_known(name: &str) -> bool {
    DRIVERS.contains(&name)
}

/// Opens the driver `name` with its data under `root` and its runtime
/// state under `runroot`. The overlay driver is probed first, in an empty
/// scratch directory on the store's file system that `scratch` makes (the
/// caller removes it), and refused with the reason when it cannot work
/// here; vfs needs no probe.
pub fn open(
    name: &str,
    root: &Path,
    runroot: &Path,
    scratch: &mut dyn FnMut() -> Result<PathBuf>,
) -> Result<Box<dyn Driver>> {
    match name {
        "vfs" => Ok(Box::new(vfs::Vfs::open(root)?)),
        "overlay" => Ok(Box::new(overlay::Overlay::open(
            root,
            runroot,
            &scratch()?,
            overlay_mount::KernelCalls,
        )?)),
        other => Err(crate::error::Error::UnknownDriver(other.to_string())),
    }
}
