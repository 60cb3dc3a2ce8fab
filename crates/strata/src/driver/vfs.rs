//! The vfs driver: every layer is a complete directory tree, `vfs/<id>/`.
//! A child starts as a full copy of its parent (reflinks where the file
//! system has them). Simple and portable; costs a copy per layer.

use std::path::{Path, PathBuf};

use super::{Driver, Prepared, View};
use crate::archive::apply::WhiteoutMode;
use crate::error::{Error, IoContext, Result};
use crate::fs::durable::{create_dir_all, rename_durable, rename_durable_if_present};

/// Name of the prepared tree inside a work directory.
const TREE: &str = "tree";

/// The vfs driver.
pub struct Vfs {
    home: PathBuf,
}

impl Vfs {
    /// Opens the driver with its layers under `root/vfs`.
    pub fn open(root: &Path) -> Result<Self> {
        let home = root.join("vfs");
        create_dir_all(&home)?;
        Ok(Self { home })
    }

    /// The driver of a store that is only read: nothing is made.
    pub fn existing(root: &Path) -> Self {
        Self {
            home: root.join("vfs"),
        }
    }

    fn layer_dir(&self, id: &str) -> PathBuf {
        self.home.join(id)
    }
}

impl Driver for Vfs {
    fn name(&self) -> &'static str {
        "vfs"
    }

    fn prepare(&self, work: &Path, parent: Option<&str>) -> Result<Prepared> {
        let tree = work.join(TREE);
        match parent {
            Some(parent) => {
                let source = self.layer_dir(parent);
                crate::fs::copy::copy_tree(&source, &tree).map_err(|e| Error::Damaged {
                    id: parent.to_string(),
                    reason: format!("cannot copy its tree: {e}"),
                })?;
            }
            None => {
                std::fs::create_dir(&tree)
                    .context(|| format!("cannot create {}", tree.display()))?;
                std::fs::set_permissions(
                    &tree,
                    std::os::unix::fs::PermissionsExt::from_mode(0o755),
                )
                .context(|| format!("cannot set the mode of {}", tree.display()))?;
            }
        }
        Ok(Prepared {
            lower_later: false,
            tree,
            whiteouts: WhiteoutMode::Delete,
            lower: None,
        })
    }

    fn commit(&self, work: &Path, id: &str) -> Result<()> {
        rename_durable(&work.join(TREE), &self.layer_dir(id))
    }

    fn retire(&self, id: &str, work: &Path) -> Result<()> {
        let dir = self.layer_dir(id);
        if !dir.exists() {
            return Ok(());
        }
        rename_durable_if_present(&dir, &work.join(TREE)).map(drop)
    }

    fn files_dir(&self, id: &str) -> PathBuf {
        self.layer_dir(id)
    }

    fn data_dir(&self, id: &str) -> PathBuf {
        self.layer_dir(id)
    }

    fn mount_point(&self, _id: &str) -> Option<PathBuf> {
        None
    }

    fn view(&self, id: &str) -> Result<View> {
        Ok(View::directory(self.layer_dir(id)))
    }

    fn mount(&self, id: &str, _read_write: bool) -> Result<PathBuf> {
        Ok(self.layer_dir(id))
    }

    fn unmount(&self, _id: &str) -> Result<()> {
        Ok(())
    }

    fn exists(&self, id: &str) -> bool {
        self.layer_dir(id).is_dir()
    }

    fn list(&self) -> Result<Vec<String>> {
        crate::fs::entries(&self.home)
    }
}
