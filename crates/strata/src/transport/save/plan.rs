//! What a save writes, worked out before a byte is written: the distinct
//! images with their names, their configs and manifests, and the distinct
//! layers in first-use order. Every check that does not need a layer's
//! tar happens here, so a save that cannot succeed fails before it starts.

use std::collections::{BTreeMap, BTreeSet};

use super::SaveItem;
use super::manifest;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::reference::Reference;
use crate::image::{Descriptor, ImageConfig, media};
use crate::store::{Image, Lease, Store};

/// How names are recorded in `index.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Naming {
    /// As `docker save` does: names need a tag; the ref name is the tag.
    Docker,
    /// As podman and skopeo do: the ref name is the full name.
    Oci,
}

/// Everything a save writes.
pub(super) struct Plan {
    /// The distinct images, in the order first given.
    pub images: Vec<PlannedImage>,
    /// Configs and manifests by digest.
    pub blobs: BTreeMap<Digest, Vec<u8>>,
    /// The distinct layers (by diff id), in first-use order.
    pub layers: Vec<LayerBlob>,
    /// How names are recorded.
    pub naming: Naming,
    /// Ref names asked for in OCI layouts, by full name (default: the full name).
    pub ref_names: BTreeMap<String, String>,
}

/// One image of a save.
pub(super) struct PlannedImage {
    /// The config (OCI config media type).
    pub config: Descriptor,
    /// The manifest saved for it (OCI manifest media type).
    pub manifest: Descriptor,
    /// Its names, in the order given, without repeats.
    pub names: Vec<Reference>,
    /// Its layers, base first.
    pub layers: Vec<LayerBlob>,
}

/// One layer tar of a save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerBlob {
    /// The store's layer id.
    pub id: String,
    /// The digest of its tar, which names its blob. (A compressed layer
    /// copied as it is between OCI layouts is named by the digest of its
    /// compressed blob instead.)
    pub diff_id: Digest,
    /// The length of its tar (or blob).
    pub size: u64,
}

/// Holds the layers of `items` under a lease, plans the save and runs `f`
/// with the plan; the lease is released whatever happens.
pub(super) fn with_plan<T>(
    store: &Store,
    items: &[SaveItem],
    naming: Naming,
    f: impl FnOnce(&Plan) -> Result<T>,
) -> Result<T> {
    let lease = store.lease()?;
    let result = hold(store, &lease, items)
        .and_then(|()| plan(store, items, naming))
        .and_then(|plan| f(&plan));
    let released = store.release(lease);
    let value = result?;
    released?;
    Ok(value)
}

/// Holds every layer of every item's image, so they stay for the save.
fn hold(store: &Store, lease: &Lease, items: &[SaveItem]) -> Result<()> {
    let mut held = BTreeSet::new();
    for layer in items.iter().flat_map(|item| &item.image.layers) {
        if held.insert(layer.as_str()) && !store.hold_layer(lease, layer)? {
            return Err(Error::LayerNotFound(layer.clone()));
        }
    }
    Ok(())
}

/// Works out what saving `items` writes.
fn plan(store: &Store, items: &[SaveItem], naming: Naming) -> Result<Plan> {
    if items.is_empty() {
        return Err(Error::Invalid("nothing to save: no images given".into()));
    }
    let mut plan = Plan {
        images: Vec::new(),
        blobs: BTreeMap::new(),
        layers: Vec::new(),
        naming,
        ref_names: items
            .iter()
            .filter_map(|item| Some((item.name.as_ref()?.to_string(), item.ref_name.clone()?)))
            .collect(),
    };
    let mut seen = BTreeSet::new();
    for (image, names) in group(items, naming)? {
        let (planned, config, manifest) = plan_image(store, image, names)?;
        for layer in &planned.layers {
            if seen.insert(layer.diff_id.clone()) {
                plan.layers.push(layer.clone());
            }
        }
        plan.blobs.insert(planned.config.digest.clone(), config);
        plan.blobs.insert(planned.manifest.digest.clone(), manifest);
        plan.images.push(planned);
    }
    Ok(plan)
}

/// The distinct images of `items` in first-given order, each with its
/// distinct names; a name given to two images is an error.
fn group(items: &[SaveItem], naming: Naming) -> Result<Vec<(&Image, Vec<Reference>)>> {
    let mut groups: Vec<(&Image, Vec<Reference>)> = Vec::new();
    let mut owners: BTreeMap<&Reference, &str> = BTreeMap::new();
    for item in items {
        let at = match groups
            .iter()
            .position(|(image, _)| image.id == item.image.id)
        {
            Some(at) => at,
            None => {
                groups.push((&item.image, Vec::new()));
                groups.len() - 1
            }
        };
        let Some(name) = &item.name else { continue };
        if naming == Naming::Docker && name.tag().is_none() {
            return Err(Error::Invalid(format!(
                "cannot save {name} in a docker archive: docker archives name images by tag, and it has none"
            )));
        }
        match owners.insert(name, &item.image.id) {
            Some(other) if other != item.image.id => {
                return Err(Error::Invalid(format!(
                    "the name {name} is given to two images ({other} and {})",
                    item.image.id
                )));
            }
            Some(_) => {}
            None => groups[at].1.push(name.clone()),
        }
    }
    Ok(groups)
}

/// Plans one image: its config, its layers (checked against the config's
/// diff ids) and its manifest. Returns the config and manifest bytes too.
fn plan_image(
    store: &Store,
    image: &Image,
    names: Vec<Reference>,
) -> Result<(PlannedImage, Vec<u8>, Vec<u8>)> {
    let config_bytes = store.image_config_bytes(image)?;
    let layers = image_layers(store, image, &config_bytes)?;
    let config = Descriptor::of(media::OCI_CONFIG, &config_bytes);
    let manifest_bytes = manifest::choose(store, image, &config, &layers)?;
    let planned = PlannedImage {
        manifest: Descriptor::of(media::OCI_MANIFEST, &manifest_bytes),
        config,
        names,
        layers,
    };
    Ok((planned, config_bytes, manifest_bytes))
}

/// The layers of `image`, whose config is `config_bytes`, base first:
/// one per diff id of the config, each with that diff id.
pub(crate) fn image_layers(
    store: &Store,
    image: &Image,
    config_bytes: &[u8],
) -> Result<Vec<LayerBlob>> {
    let what = format!("the config of image {}", image.id);
    let config = ImageConfig::parse(&what, config_bytes)?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != image.layers.len() {
        return Err(Error::Malformed {
            what,
            reason: format!(
                "it lists {} layers but the image has {}",
                diff_ids.len(),
                image.layers.len()
            ),
        });
    }
    image
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(id, diff_id)| layer_blob(store, id, diff_id))
        .collect()
}

/// Layer `id`, which must have `diff_id` and a recorded tar size.
fn layer_blob(store: &Store, id: &str, diff_id: &Digest) -> Result<LayerBlob> {
    let layer = store.layer(id)?;
    let (Some(digest), Some(size)) = (&layer.diff_digest, layer.diff_size) else {
        return Err(Error::Damaged {
            id: layer.id,
            reason: "it has no recorded tar digest and size, so its tar cannot be saved".into(),
        });
    };
    if digest != diff_id {
        return Err(Error::ContentMismatch {
            what: format!("layer {}", layer.id),
            expected: diff_id.to_string(),
            actual: digest.to_string(),
        });
    }
    Ok(LayerBlob {
        id: layer.id,
        diff_id: diff_id.clone(),
        size,
    })
}
