//! Disk usage, as `podman system df` reports it: per image its size, the
//! part of it shared with other images and the part only it has, and how
//! many containers use it; per container the size of its changes; what
//! pruning could give back.
//!
//! Sizes are the layers' uncompressed sizes (what their tars hold), the
//! measure `strata images` and `podman system df` use; a container's size
//! is the size of its read-write layer's changes.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::Store;
use crate::error::Result;

/// What the store's images and containers take.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiskUsage {
    /// Every image, oldest first.
    pub images: Vec<ImageUsage>,
    /// Every container, oldest first.
    pub containers: Vec<ContainerUsage>,
    /// Bytes of the layers images use, each layer once.
    pub images_size: u64,
    /// Bytes of the layers only images no container uses have, each once:
    /// what `image prune -a` would give back.
    pub images_reclaimable: u64,
    /// Bytes of the containers' changes.
    pub containers_size: u64,
    /// Bytes of the changes of containers that are not mounted: what
    /// `container prune` would give back.
    pub containers_reclaimable: u64,
}

/// One image's share.
#[derive(Debug, Clone, Serialize)]
pub struct ImageUsage {
    /// 64 hex digits.
    pub id: String,
    /// Its names.
    pub names: Vec<String>,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Its layers' bytes.
    pub size: u64,
    /// Bytes of its layers another image has too.
    pub shared_size: u64,
    /// Bytes of its layers no other image has.
    pub unique_size: u64,
    /// How many containers use it.
    pub containers: usize,
}

/// One container's share.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerUsage {
    /// 64 hex digits.
    pub id: String,
    /// Its names.
    pub names: Vec<String>,
    /// The image it was made from, if any.
    pub image: Option<String>,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Bytes of its changes (the tar `layer diff` writes of its layer).
    pub size: u64,
    /// Whether it is mounted.
    pub mounted: bool,
}

impl Store {
    /// What images and containers take; see the module docs.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let layers = self.layers()?;
        let size_of: HashMap<&str, u64> = layers
            .iter()
            .map(|l| (l.id.as_str(), l.diff_size.unwrap_or(0)))
            .collect();
        let images = self.images()?;
        let containers = self.containers()?;
        let mut users: HashMap<&str, usize> = HashMap::new();
        for image in &images {
            for id in &image.layers {
                *users.entry(id.as_str()).or_default() += 1;
            }
        }
        let mut usage = DiskUsage::default();
        let mut active_layers: HashSet<&str> = HashSet::new();
        let mut all_layers: HashSet<&str> = HashSet::new();
        for image in &images {
            let count = containers
                .iter()
                .filter(|c| {
                    c.image.as_deref() == Some(image.id.as_str())
                        || (c.base.is_some() && c.base == image.top_layer)
                })
                .count();
            let mut shared = 0;
            let mut size = 0;
            for id in &image.layers {
                let bytes = size_of.get(id.as_str()).copied().unwrap_or(0);
                size += bytes;
                if users.get(id.as_str()).copied().unwrap_or(0) > 1 {
                    shared += bytes;
                }
                all_layers.insert(id);
                if count > 0 {
                    active_layers.insert(id);
                }
            }
            usage.images.push(ImageUsage {
                id: image.id.clone(),
                names: image.names.clone(),
                created: image.created.clone(),
                size,
                shared_size: shared,
                unique_size: size - shared,
                containers: count,
            });
        }
        for id in &all_layers {
            let bytes = size_of.get(id).copied().unwrap_or(0);
            usage.images_size += bytes;
            if !active_layers.contains(id) {
                usage.images_reclaimable += bytes;
            }
        }
        for container in containers {
            let mounted = self.mount_count(&container.layer)? > 0;
            let size = self.container_size(&container.layer);
            usage.containers_size += size;
            if !mounted {
                usage.containers_reclaimable += size;
            }
            usage.containers.push(ContainerUsage {
                id: container.id,
                names: container.names,
                image: container.image,
                created: container.created,
                size,
                mounted,
            });
        }
        Ok(usage)
    }

    /// The size of a container's changes: 0 without any, else the size
    /// of their tar (0 if they cannot be read).
    pub(crate) fn container_size(&self, layer: &str) -> u64 {
        match self.changes(layer, None) {
            Ok(changes) if !changes.is_empty() => self.diff_size(layer, None).unwrap_or(0),
            _ => 0,
        }
    }
}
