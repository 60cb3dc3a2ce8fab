//! Checking the store: every layer's data and tar-split are present and its
//! rebuilt tar hashes to its diff digest; the kernel's mounts under the
//! store agree with the store's mount counts; nothing lies around that no
//! root reaches (the garbage a collection would take: unreferenced layers,
//! blobs no image or lease names, data and tar-split without a row, old
//! temporary files); the layer blobs images keep and the image indexes
//! the store keeps hash to their digests; and what recovery did when the
//! store was opened, as its log says (the log is cleared once reported).
//! With `repair`, what can be fixed is: uncounted mounts are unmounted,
//! stale counts dropped, garbage collected, damaged layers without
//! children deleted, bad kept blobs and indexes forgotten.

use std::collections::HashMap;

use serde::Serialize;

use super::Store;
use super::diff::check_digest;
use super::layer::Layer;
use super::recovery::RecoveryEntry;
use crate::digest::{Digest, DigestReader, DigestWriter};
use crate::error::{IoContext, Result};

/// One problem fsck found.
#[derive(Debug, Clone, Serialize)]
pub struct FsckIssue {
    /// What kind of problem: `damaged-layer`, `damaged-image`,
    /// `damaged-kept-blob` (a layer blob an image keeps is missing or not
    /// its digest; repaired by forgetting it: the image is then served
    /// with a generated manifest), `damaged-image-index` (the bytes of an
    /// image index the store keeps are missing or not its digest;
    /// repaired by forgetting the index), `uncounted-mount`, `stale-mount-count`, garbage (`unreferenced-layer`,
    /// `orphan-blob`, `orphan-data`, `orphan-tar-split`, `stray-temp-file`),
    /// and what recovery fixed (`unfinished-layer`, `orphan-work-dir`,
    /// `unfinished-container`, `dead-lease`, `dead-lease-layer`).
    pub kind: String,
    /// The layer id, digest, lease, container or path concerned.
    pub id: String,
    /// What exactly is wrong.
    pub detail: String,
    /// Whether it was fixed (by `--repair`, or by recovery).
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
        self.recover_all()?;
        let mut issues: Vec<FsckIssue> = self
            .take_recovery_log()?
            .into_iter()
            .map(recovered_issue)
            .collect();
        issues.extend(self.check_mounts(repair)?);
        let layers = self.layers()?;
        for layer in &layers {
            if let Err(e) = self.verify_layer(layer) {
                let repaired = repair
                    && self.children(&layer.id)?.is_empty()
                    && self.delete_layer(&layer.id).is_ok();
                issues.push(FsckIssue {
                    kind: "damaged-layer".into(),
                    id: layer.id.clone(),
                    detail: e.to_string(),
                    repaired,
                });
            }
        }
        for garbage in self.survey()? {
            let repaired = repair && self.sweep(&garbage)?.is_some();
            issues.push(FsckIssue {
                kind: garbage.kind().into(),
                id: garbage.id(),
                detail: garbage.detail().into(),
                repaired,
            });
        }
        self.check_images(&mut issues)?;
        self.check_kept_blobs(repair, &mut issues)?;
        self.check_image_indexes(repair, &mut issues)?;
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

    /// Every image's config blob verifies and its layers are all there.
    /// Not repaired: removing an image is the user's call.
    fn check_images(&self, issues: &mut Vec<FsckIssue>) -> Result<()> {
        for image in self.images()? {
            let mut problems = Vec::new();
            if let Err(e) = self.image_config_bytes(&image) {
                problems.push(e.to_string());
            }
            for id in &image.layers {
                if self.layer(id).is_err() {
                    problems.push(format!("its layer {id} is missing"));
                }
            }
            for problem in problems {
                issues.push(FsckIssue {
                    kind: "damaged-image".into(),
                    id: image.id.clone(),
                    detail: problem,
                    repaired: false,
                });
            }
        }
        Ok(())
    }
}

impl Store {
    /// Every layer blob an image keeps is there and hashes to its digest
    /// (each blob read once, however many images keep it). A bad one is
    /// forgotten by `repair` (and its file removed when nothing else names
    /// it).
    fn check_kept_blobs(&self, repair: bool, issues: &mut Vec<FsckIssue>) -> Result<()> {
        let mut verdicts: HashMap<Digest, Option<String>> = HashMap::new();
        for image in self.images()? {
            for digest in self.kept_blobs(&image.id)? {
                let problem = match verdicts.get(&digest) {
                    Some(verdict) => verdict.clone(),
                    None => {
                        let verdict = self.kept_blob_problem(&digest)?;
                        verdicts.insert(digest.clone(), verdict.clone());
                        verdict
                    }
                };
                if let Some(detail) = problem {
                    let repaired = repair && self.forget_kept_blob(&image.id, &digest).is_ok();
                    issues.push(FsckIssue {
                        kind: "damaged-kept-blob".into(),
                        id: image.id.clone(),
                        detail,
                        repaired,
                    });
                }
            }
        }
        Ok(())
    }

    /// What is wrong with kept blob `digest`: missing, or not its digest.
    fn kept_blob_problem(&self, digest: &Digest) -> Result<Option<String>> {
        let Some((file, _)) = self.open_stored_blob(digest)? else {
            return Ok(Some(format!("its kept blob {digest} is missing")));
        };
        let mut hashed = DigestReader::new(file);
        std::io::copy(&mut hashed, &mut std::io::sink())
            .context(|| format!("cannot read blob {digest}"))?;
        let (actual, _) = hashed.finish();
        Ok((&actual != digest).then(|| format!("its kept blob {digest} hashes to {actual}")))
    }
}

/// What recovery (which runs whenever the store opens, repair or not)
/// cleaned up after dead processes, as fsck reports it.
fn recovered_issue(entry: RecoveryEntry) -> FsckIssue {
    FsckIssue {
        kind: entry.kind,
        id: entry.id,
        detail: format!("{} (cleaned up by recovery at {})", entry.detail, entry.at),
        repaired: true,
    }
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
    /// Partial downloads a later pull may resume.
    pub downloads: super::Downloads,
    /// Layer blobs images keep beside their layers (see
    /// [`Store::kept_blob_totals`]).
    pub kept_blobs: super::KeptBlobs,
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
            downloads: self.downloads()?,
            kept_blobs: self.kept_blob_totals()?,
        })
    }
}
