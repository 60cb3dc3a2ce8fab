//! Checking the store: every layer's data and tar-split are present and its
//! rebuilt tar hashes to its diff digest; no data, metadata or work
//! directory lies around without a record or a live owner. With `repair`,
//! what can be fixed is: orphans are removed, damaged layers without
//! children are deleted.

use std::collections::HashSet;

use serde::Serialize;

use super::Store;
use super::diff::check_digest;
use super::layer::Layer;
use super::records;
use super::recovery::Recovered;
use crate::digest::DigestWriter;
use crate::error::{IoContext, Result};
use crate::fs::workdir::WorkDir;

/// One problem fsck found.
#[derive(Debug, Clone, Serialize)]
pub struct FsckIssue {
    /// What kind of problem: `damaged-layer`, `damaged-image`, `orphan-data`,
    /// `orphan-tar-split`, and what recovery fixed: `unfinished-layer`,
    /// `orphan-work-dir`.
    pub kind: &'static str,
    /// The layer id or directory name concerned.
    pub id: String,
    /// What exactly is wrong.
    pub detail: String,
    /// Whether `--repair` fixed it.
    pub repaired: bool,
}

/// What fsck found.
#[derive(Debug, Clone, Serialize)]
pub struct FsckReport {
    /// Layers verified.
    pub layers_checked: usize,
    /// Problems, fixed or not.
    pub issues: Vec<FsckIssue>,
    /// Whether the store is clean (after repair, if asked).
    pub clean: bool,
}

impl Store {
    /// Checks the whole store; repairs what it can when `repair` is set.
    pub fn fsck(&self, repair: bool) -> Result<FsckReport> {
        let mut issues = recovered_issues(self.recover()?);
        let layers = self.layers()?;
        for layer in &layers {
            if let Err(e) = self.verify_layer(layer) {
                let repaired = repair
                    && self.children(&layer.id)?.is_empty()
                    && self.delete_layer(&layer.id).is_ok();
                issues.push(FsckIssue {
                    kind: "damaged-layer",
                    id: layer.id.clone(),
                    detail: e.to_string(),
                    repaired,
                });
            }
        }
        self.find_orphans(repair, &mut issues)?;
        self.check_images(&mut issues)?;
        let clean = issues.iter().all(|i| i.repaired);
        Ok(FsckReport {
            layers_checked: layers.len(),
            issues,
            clean,
        })
    }

    /// Verifies one layer: its data exists and, with tar-split, its tar
    /// rebuilds to its diff digest.
    pub fn verify_layer(&self, layer: &Layer) -> Result<()> {
        if !self.driver.exists(&layer.id) {
            return Err(crate::Error::Damaged {
                id: layer.id.clone(),
                reason: "its data is missing".into(),
            });
        }
        if !layer.has_tar_split {
            return Ok(());
        }
        let mut hasher = DigestWriter::new(std::io::sink());
        self.reassemble(layer, &mut hasher)?;
        check_digest(layer, &hasher.finish().0)
    }

    fn find_orphans(&self, repair: bool, issues: &mut Vec<FsckIssue>) -> Result<()> {
        let known: HashSet<String> = records::all_ids(&self.conn())?.into_iter().collect();
        for id in self
            .driver
            .list()?
            .into_iter()
            .filter(|id| !known.contains(id))
        {
            let repaired = repair && self.remove_orphan_data(&id).is_ok();
            issues.push(FsckIssue {
                kind: "orphan-data",
                id,
                detail: "driver data without a layer".into(),
                repaired,
            });
        }
        let meta_root = self.root.join("layers");
        for id in crate::fs::entries(&meta_root)?
            .into_iter()
            .filter(|id| !known.contains(id))
        {
            let repaired = repair && std::fs::remove_dir_all(meta_root.join(&id)).is_ok();
            issues.push(FsckIssue {
                kind: "orphan-tar-split",
                id,
                detail: "tar-split without a layer".into(),
                repaired,
            });
        }
        Ok(())
    }

    /// Every image's config blob verifies and its layers are all there.
    /// Not repaired: removing an image is the user's call.
    fn check_images(&self, issues: &mut Vec<FsckIssue>) -> Result<()> {
        for image in self.images()? {
            let mut problems = Vec::new();
            if let Err(e) = self.image_config(&image) {
                problems.push(e.to_string());
            }
            for id in &image.layers {
                if self.layer(id).is_err() {
                    problems.push(format!("its layer {id} is missing"));
                }
            }
            for problem in problems {
                issues.push(FsckIssue {
                    kind: "damaged-image",
                    id: image.id.clone(),
                    detail: problem,
                    repaired: false,
                });
            }
        }
        Ok(())
    }

    fn remove_orphan_data(&self, id: &str) -> Result<()> {
        let work = WorkDir::create(&self.trash_dir())?;
        self.driver.retire(id, work.path())?;
        work.remove()
    }
}

/// What recovery (which runs whenever the store opens, repair or not)
/// cleaned up after dead processes, as fsck reports it.
fn recovered_issues(recovered: Recovered) -> Vec<FsckIssue> {
    let layers = recovered.layers.into_iter().map(|id| FsckIssue {
        kind: "unfinished-layer",
        id,
        detail: "half made or half deleted by a process that died".into(),
        repaired: true,
    });
    let work_dirs = recovered.work_dirs.into_iter().map(|id| FsckIssue {
        kind: "orphan-work-dir",
        id,
        detail: "work directory without a live owner".into(),
        repaired: true,
    });
    layers.chain(work_dirs).collect()
}

/// Summary of the store for `strata status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Persistent directory.
    pub root: String,
    /// Runtime directory.
    pub runroot: String,
    /// Storage driver.
    pub driver: &'static str,
    /// Schema version of the database.
    pub schema_version: usize,
    /// Number of layers.
    pub layers: usize,
    /// Total of the layers' diff sizes.
    pub layers_diff_size: u64,
    /// Number of containers.
    pub containers: usize,
    /// Number of images.
    pub images: usize,
}

impl Store {
    /// A summary of the store.
    pub fn status(&self) -> Result<Status> {
        let layers = self.layers()?;
        let _ = std::fs::metadata(&self.root)
            .context(|| format!("cannot stat {}", self.root.display()))?;
        Ok(Status {
            root: self.root.display().to_string(),
            runroot: self.runroot.display().to_string(),
            driver: self.driver.name(),
            schema_version: super::db::schema_version(),
            layers: layers.len(),
            layers_diff_size: layers.iter().filter_map(|l| l.diff_size).sum(),
            containers: self.containers()?.len(),
            images: self.images()?.len(),
        })
    }
}
