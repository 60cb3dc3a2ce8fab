//! What an image is served as: its manifest, and the blobs that manifest
//! names.
//!
//! strata can hand back byte-exactly an image's config (kept as received),
//! each layer's uncompressed tar (rebuilt from tar-split, checked against
//! the diff id), and the layer blobs an image keeps in the store's blobs
//! (those of an image pushed into the server, compressed as the client
//! sent them). A stored manifest that names only those blobs — the config
//! by its digest and size, and each layer either as a blob whose digest
//! is the layer's diff id and whose size is the tar's, or as a kept blob —
//! is served as its exact bytes, so its digest is kept. Any other image
//! (pulled images, whose manifests name compressed blobs strata does not
//! keep) gets a manifest generated from the store: an OCI image manifest
//! in compact JSON naming the config with the OCI config media type and
//! the layers as `application/vnd.oci.image.layer.v1.tar` blobs by diff
//! id, the same bytes every time and the same ones `strata save` writes.

use strata::digest::Digest;
use strata::image::{Descriptor, Manifest, media};
use strata::{Image, Store};

use crate::reply::ApiError;

/// A layer as a blob: its uncompressed tar.
#[derive(Debug, Clone)]
pub struct LayerBlob {
    /// The layer's id in the store.
    pub id: String,
    /// Its diff id, the blob's digest.
    pub diff_id: Digest,
    /// The tar's length.
    pub size: u64,
}

/// An image as served.
#[derive(Debug, Clone)]
pub struct Served {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
}

/// A blob a repository serves.
pub enum Blob {
    /// An image's config, in memory (it is checked against its digest
    /// as it is read).
    Config(Vec<u8>),
    /// A layer's tar, rebuilt as it is sent.
    Layer(LayerBlob),
    /// A blob the store keeps as a file (a pushed layer, as compressed
    /// as the client sent it), `size` bytes.
    Stored {
        /// Its digest, checked as it is read.
        digest: Digest,
        /// Its length.
        size: u64,
    },
}

/// The layers of `image` as blobs, base first.
pub fn layers(store: &Store, image: &Image) -> Result<Vec<LayerBlob>, ApiError> {
    image
        .layers
        .iter()
        .map(|id| {
            let layer = store.layer(id)?;
            let diff_id = layer.diff_digest.clone().ok_or_else(|| {
                ApiError::internal_message(format!(
                    "layer {id} of image {} has no diff id",
                    image.id
                ))
            })?;
            let size = match layer.diff_size {
                Some(size) => size,
                None => store.diff_size(id, None)?,
            };
            Ok(LayerBlob {
                id: id.clone(),
                diff_id,
                size,
            })
        })
        .collect()
}

/// How `image` is served: its first stored manifest that names only
/// blobs strata can produce, else the generated one.
pub fn served(store: &Store, image: &Image) -> Result<Served, ApiError> {
    let config = store.image_config_bytes(image)?;
    let layers = layers(store, image)?;
    for digest in &image.manifests {
        let bytes = store.blob(digest)?;
        if let Some(media_type) = producible(store, &bytes, image, config.len() as u64, &layers) {
            return Ok(Served {
                manifest: bytes,
                media_type,
                digest: digest.clone(),
            });
        }
    }
    let manifest = generate(&config, &layers)?;
    Ok(Served {
        digest: Digest::of(&manifest),
        manifest,
        media_type: media::OCI_MANIFEST.to_string(),
    })
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

/// The generated manifest: compact JSON, keys `schemaVersion, mediaType,
/// config, layers`.
fn generate(config: &[u8], layers: &[LayerBlob]) -> Result<Vec<u8>, ApiError> {
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.to_string()),
        config: Descriptor::of(media::OCI_CONFIG, config),
        layers: layers
            .iter()
            .map(|layer| Descriptor {
                media_type: media::OCI_LAYER_TAR.to_string(),
                digest: layer.diff_id.clone(),
                size: layer.size,
                urls: Vec::new(),
                annotations: Default::default(),
                platform: None,
            })
            .collect(),
    };
    serde_json::to_vec(&manifest)
        .map_err(|e| ApiError::internal_message(format!("cannot write a manifest: {e}")))
}

/// The blob `digest` among those the images `images` are served with.
pub fn find_blob(
    store: &Store,
    images: &[&Image],
    digest: &Digest,
) -> Result<Option<Blob>, ApiError> {
    for image in images {
        if &image.digest() == digest {
            return Ok(Some(Blob::Config(store.image_config_bytes(image)?)));
        }
    }
    for image in images {
        if let Some(blob) = stored_layer_blob(store, image, digest)? {
            return Ok(Some(blob));
        }
    }
    for image in images {
        for id in &image.layers {
            let layer = store.layer(id)?;
            if layer.diff_digest.as_ref() == Some(digest) {
                let size = match layer.diff_size {
                    Some(size) => size,
                    None => store.diff_size(id, None)?,
                };
                return Ok(Some(Blob::Layer(LayerBlob {
                    id: id.clone(),
                    diff_id: digest.clone(),
                    size,
                })));
            }
        }
    }
    Ok(None)
}

/// Blob `digest` when a served manifest of `image` names it as a layer
/// blob the store keeps.
fn stored_layer_blob(
    store: &Store,
    image: &Image,
    digest: &Digest,
) -> Result<Option<Blob>, ApiError> {
    let Some(size) = store.stored_blob_size(digest) else {
        return Ok(None);
    };
    for manifest in &image.manifests {
        let bytes = store.blob(manifest)?;
        let Ok(parsed) = Manifest::parse("a stored manifest", &bytes) else {
            continue;
        };
        if parsed
            .layers
            .iter()
            .any(|layer| &layer.digest == digest && layer.size == size)
        {
            return Ok(Some(Blob::Stored {
                digest: digest.clone(),
                size,
            }));
        }
    }
    Ok(None)
}
