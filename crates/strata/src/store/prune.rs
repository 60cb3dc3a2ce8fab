//! Pruning, as podman prunes: images nobody named ([`Store::prune_images`];
//! every image no container uses with `all`), containers that are not
//! mounted ([`Store::prune_containers`]), and both image pruning and a
//! collection together ([`Store::prune_system`]).
//!
//! An image is dangling when it has no name and no other image is made on
//! it (its layers are not the first layers of a longer image), as podman
//! defines it. Images a container was made from, or whose top layer a
//! container sits on, are never pruned. Each image goes through the
//! ordinary removal ([`Store::delete_image`]), which checks again, in its
//! own transaction, that no container uses it: an image a container
//! started using meanwhile stays, and is not reported.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::gc::{GcOptions, GcReport};
use super::{Image, Store};
use crate::error::{Error, Result};

/// Which images to prune.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Every image no container uses, not only dangling ones.
    pub all: bool,
    /// Report what would be removed; remove nothing.
    pub dry_run: bool,
}

/// What pruning removed (or, dry, would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// Whether nothing was removed.
    pub dry_run: bool,
    /// Ids of the images (or containers) removed, 64 hex digits.
    pub removed: Vec<String>,
    /// Ids of the layers deleted with them (none when dry).
    pub layers: Vec<String>,
    /// Uncompressed bytes of the layers that went (or would go) with
    /// them: those no image, container or name kept keeps.
    pub bytes: u64,
}

/// What a system prune removed (or, dry, would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SystemPruneReport {
    /// Whether nothing was removed.
    pub dry_run: bool,
    /// The images pruned.
    pub images: PruneReport,
    /// The collection after them: unused layers, blobs, expired leases,
    /// partial downloads and leftovers.
    pub gc: GcReport,
}

impl SystemPruneReport {
    /// Bytes given back (or, dry, that would be): the images' layers and
    /// what the collection freed.
    pub fn bytes(&self) -> u64 {
        self.images.bytes + self.gc.bytes_freed
    }
}

impl Store {
    /// Removes dangling images (with `all`, every image no container
    /// uses), oldest first; see the module docs.
    pub fn prune_images(&self, options: &PruneOptions) -> Result<PruneReport> {
        let images = self.images()?;
        let containers = self.containers()?;
        let used: HashSet<&str> = containers
            .iter()
            .filter_map(|c| c.image.as_deref())
            .collect();
        let bases: HashSet<&str> = containers
            .iter()
            .filter_map(|c| c.base.as_deref())
            .collect();
        let held = self.index_held_images()?;
        let prunable = |image: &Image| {
            let in_use = used.contains(image.id.as_str())
                || (!options.all && held.contains(&image.id))
                || image
                    .top_layer
                    .as_deref()
                    .is_some_and(|t| bases.contains(t));
            !in_use && (options.all || is_dangling(image, &images))
        };
        let (doomed, kept): (Vec<&Image>, Vec<&Image>) = images.iter().partition(|i| prunable(i));
        let mut report = PruneReport {
            dry_run: options.dry_run,
            bytes: self.freed_with(&doomed, &kept)?,
            ..PruneReport::default()
        };
        for image in doomed {
            if options.dry_run {
                report.removed.push(image.id.clone());
                continue;
            }
            match self.delete_image(&image.id, false) {
                Ok(removed) => {
                    report.removed.extend(removed.image);
                    report.layers.extend(removed.layers);
                }
                // Taken by a container or removed by someone else meanwhile.
                Err(
                    Error::ImageInUse { .. } | Error::ImageInIndex { .. } | Error::ImageNotFound(_),
                ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Removes every container that is not mounted, with its read-write
    /// layer, oldest first (a mounted container is strata's running one).
    pub fn prune_containers(&self, dry_run: bool) -> Result<PruneReport> {
        let mut report = PruneReport {
            dry_run,
            ..PruneReport::default()
        };
        for container in self.containers()? {
            if self.mount_count(&container.layer)? > 0 {
                continue;
            }
            let size = self.container_size(&container.layer);
            if !dry_run {
                match self.delete_container(&container.id, false) {
                    Ok(()) => report.layers.push(container.layer.clone()),
                    Err(
                        Error::ContainerMounted { .. }
                        | Error::ContainerNotFound(_)
                        | Error::KernelMounted { .. },
                    ) => continue,
                    Err(e) => return Err(e),
                }
            }
            report.bytes += size;
            report.removed.push(container.id);
        }
        Ok(report)
    }

    /// Prunes images (dangling ones, or with `all` every image no
    /// container uses), then collects garbage ([`Store::gc`]): the layers
    /// nothing keeps, blobs, expired leases and partial downloads.
    /// Containers are left alone.
    pub fn prune_system(&self, options: &PruneOptions) -> Result<SystemPruneReport> {
        let images = self.prune_images(options)?;
        let gc = self.gc(&GcOptions {
            dry_run: options.dry_run,
        })?;
        Ok(SystemPruneReport {
            dry_run: options.dry_run,
            images,
            gc,
        })
    }

    /// Uncompressed bytes of the layers of `doomed` images that no `kept`
    /// image, no container and no named layer keeps.
    fn freed_with(&self, doomed: &[&Image], kept: &[&Image]) -> Result<u64> {
        if doomed.is_empty() {
            return Ok(0);
        }
        let layers = self.layers()?;
        let by_id: HashMap<&str, &super::Layer> =
            layers.iter().map(|l| (l.id.as_str(), l)).collect();
        let mut keep: HashSet<&str> = HashSet::new();
        let mut roots: Vec<&str> = kept
            .iter()
            .filter_map(|image| image.top_layer.as_deref())
            .collect();
        let containers = self.containers()?;
        roots.extend(containers.iter().filter_map(|c| c.base.as_deref()));
        roots.extend(
            layers
                .iter()
                .filter(|l| !l.names.is_empty())
                .map(|l| l.id.as_str()),
        );
        for root in roots {
            let mut at = Some(root);
            while let Some(id) = at.filter(|id| keep.insert(id)) {
                at = by_id.get(id).and_then(|l| l.parent.as_deref());
            }
        }
        let mut counted = HashSet::new();
        let mut bytes = 0;
        for image in doomed {
            for id in &image.layers {
                if !keep.contains(id.as_str()) && counted.insert(id.as_str()) {
                    bytes += by_id
                        .get(id.as_str())
                        .and_then(|l| l.diff_size)
                        .unwrap_or(0);
                }
            }
        }
        Ok(bytes)
    }
}

/// Whether `image` has no name and no image of `all` is made on it.
pub(crate) fn is_dangling(image: &Image, all: &[Image]) -> bool {
    image.names.is_empty() && !has_children(image, all)
}

/// Whether another image of `all` has `image`'s layers as its first ones
/// and more on top.
pub(crate) fn has_children(image: &Image, all: &[Image]) -> bool {
    !image.layers.is_empty()
        && all.iter().any(|other| {
            other.layers.len() > image.layers.len() && other.layers.starts_with(&image.layers)
        })
}
