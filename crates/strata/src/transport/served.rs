//! An image as a registry serves it: which manifest, with which digest,
//! and where each blob that manifest names comes from — for `strata
//! serve`, and for anyone building a registry on a store.
//!
//! The store can hand back byte-exactly an image's config (kept as
//! received), each layer's uncompressed tar (rebuilt from tar-split,
//! checked against the diff id), and the layer blobs an image keeps in the
//! store's blobs (those of an image pushed into a `strata serve`). A
//! stored manifest that names only such blobs — the config by its digest
//! and size, each layer either as the tar (digest the diff id, size the
//! tar's) or as a kept blob — is served as its exact bytes, so its digest
//! is kept. Any other image gets the manifest `strata save` generates for
//! it: OCI, compact JSON, the layers as uncompressed tars by diff id; the
//! same bytes, so the same digest, every time and on every machine.

use super::save::manifest::generate;
use super::save::plan::LayerBlob;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::manifest::Index;
use crate::image::{Descriptor, Manifest, media};
use crate::store::{Image, ImageIndex, Store};

/// The manifest an image is served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedManifest {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its media type (OCI or Docker schema 2).
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
}

/// Where a blob of a served image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServedBlob {
    /// The image's config: [`Store::image_config_bytes`].
    Config,
    /// A layer's uncompressed tar, rebuilt by [`Store::diff`] of the layer
    /// against its parent; `size` bytes.
    LayerTar {
        /// The layer's id.
        layer: String,
        /// The tar's length.
        size: u64,
    },
    /// A blob the store keeps as a file: [`Store::open_stored_blob`];
    /// `size` bytes.
    Stored {
        /// Its length.
        size: u64,
    },
}

impl Store {
    /// The manifest a registry serving `image` hands out: its first stored
    /// manifest whose blobs the store can produce, else the one `strata
    /// save` generates (see the module documentation of `served`).
    pub fn served_manifest(&self, image: &Image) -> Result<ServedManifest> {
        Servable::of(self, image)?.served(&image.manifests)
    }

    /// The manifest of `image` a registry serves by `digest`: a stored
    /// manifest of that digest whose blobs the store can produce (an image
    /// may keep several: one pushed alone, one an index lists), or the
    /// served one when it has that digest.
    pub fn served_manifest_by_digest(
        &self,
        image: &Image,
        digest: &Digest,
    ) -> Result<Option<ServedManifest>> {
        let servable = Servable::of(self, image)?;
        if image.manifests.contains(digest)
            && let Some(stored) = servable.stored(digest)?
        {
            return Ok(Some(stored));
        }
        let served = servable.served(&image.manifests)?;
        Ok((&served.digest == digest).then_some(served))
    }

    /// An image index as a registry serves it: its bytes as pushed, with
    /// its own media type (an OCI index when it names none).
    pub fn served_index(&self, index: &ImageIndex) -> Result<ServedManifest> {
        let bytes = self.blob(&index.digest)?;
        let parsed = Index::parse(&format!("image index {}", index.digest), &bytes)?;
        Ok(ServedManifest {
            media_type: parsed
                .media_type
                .unwrap_or_else(|| media::OCI_INDEX.to_string()),
            digest: index.digest.clone(),
            bytes,
        })
    }

    /// Where blob `digest` of `image` comes from, if the image is served
    /// with it: its config, a blob one of its stored manifests names and
    /// the store keeps, or a layer's tar by diff id.
    pub fn served_blob(&self, image: &Image, digest: &Digest) -> Result<Option<ServedBlob>> {
        if &image.digest() == digest {
            return Ok(Some(ServedBlob::Config));
        }
        if let Some(size) = self.stored_blob_size(digest) {
            for manifest in &image.manifests {
                let bytes = self.blob(manifest)?;
                let Ok(parsed) = Manifest::parse("a stored manifest", &bytes) else {
                    continue;
                };
                if parsed
                    .layers
                    .iter()
                    .any(|layer| &layer.digest == digest && layer.size == size)
                {
                    return Ok(Some(ServedBlob::Stored { size }));
                }
            }
        }
        for id in &image.layers {
            let layer = self.layer(id)?;
            if layer.diff_digest.as_ref() == Some(digest) {
                return Ok(Some(ServedBlob::LayerTar {
                    size: tar_size(self, id, layer.diff_size)?,
                    layer: id.clone(),
                }));
            }
        }
        Ok(None)
    }
}

/// What the store can produce of an image: its config's bytes and its
/// layers as tars, read once for every manifest looked at.
struct Servable<'a> {
    store: &'a Store,
    image: &'a Image,
    config: Vec<u8>,
    layers: Vec<LayerBlob>,
}

impl<'a> Servable<'a> {
    fn of(store: &'a Store, image: &'a Image) -> Result<Self> {
        Ok(Self {
            config: store.image_config_bytes(image)?,
            layers: served_layers(store, image)?,
            store,
            image,
        })
    }

    /// Stored manifest `digest`, when the store can produce its blobs.
    fn stored(&self, digest: &Digest) -> Result<Option<ServedManifest>> {
        let bytes = self.store.blob(digest)?;
        let config_size = self.config.len() as u64;
        let kind = producible(self.store, &bytes, self.image, config_size, &self.layers);
        Ok(kind.map(|media_type| ServedManifest {
            bytes,
            media_type,
            digest: digest.clone(),
        }))
    }

    /// The first of `stored` the store can produce, else the generated
    /// manifest.
    fn served(&self, stored: &[Digest]) -> Result<ServedManifest> {
        for digest in stored {
            if let Some(served) = self.stored(digest)? {
                return Ok(served);
            }
        }
        let config = Descriptor::of(media::OCI_CONFIG, &self.config);
        let bytes = generate(&config, &self.layers)?;
        Ok(ServedManifest {
            digest: Digest::of(&bytes),
            bytes,
            media_type: media::OCI_MANIFEST.to_string(),
        })
    }
}

/// The layers of `image` as uncompressed tars, base first.
fn served_layers(store: &Store, image: &Image) -> Result<Vec<LayerBlob>> {
    image
        .layers
        .iter()
        .map(|id| {
            let layer = store.layer(id)?;
            let diff_id = layer.diff_digest.clone().ok_or_else(|| Error::Damaged {
                id: id.clone(),
                reason: format!("layer of image {} has no diff id", image.id),
            })?;
            Ok(LayerBlob {
                size: tar_size(store, id, layer.diff_size)?,
                id: id.clone(),
                diff_id,
            })
        })
        .collect()
}

/// The length of layer `id`'s tar: as recorded, else as a diff measures it.
fn tar_size(store: &Store, id: &str, recorded: Option<u64>) -> Result<u64> {
    match recorded {
        Some(size) => Ok(size),
        None => store.diff_size(id, None),
    }
}

/// The media type of stored manifest `bytes` when it names exactly the
/// config of `image` (`config_size` bytes) and, for each of `layers`,
/// either its tar by diff id or a blob the store keeps.
fn producible(
    store: &Store,
    bytes: &[u8],
    image: &Image,
    config_size: u64,
    layers: &[LayerBlob],
) -> Option<String> {
    let manifest = Manifest::parse("a stored manifest", bytes).ok()?;
    let config_fits =
        manifest.config.digest == image.digest() && manifest.config.size == config_size;
    let layers_fit = manifest.layers.len() == layers.len()
        && manifest
            .layers
            .iter()
            .zip(layers)
            .all(|(descriptor, layer)| {
                (descriptor.digest == layer.diff_id && descriptor.size == layer.size)
                    || store.stored_blob_size(&descriptor.digest) == Some(descriptor.size)
            });
    (config_fits && layers_fit).then(|| {
        manifest
            .media_type
            .unwrap_or_else(|| media::OCI_MANIFEST.to_string())
    })
}
