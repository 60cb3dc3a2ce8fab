//! What an image is served as — its manifest, and where each blob that
//! manifest names comes from — as the store says it
//! ([`Store::served_manifest`], [`Store::served_blob`]; docs/serve.md
//! has the rules), in the shapes the handlers send.

use strata::digest::Digest;
use strata::{Image, ServedBlob, ServedManifest, Store};

use crate::catalog::Repo;
use crate::names::ManifestRef;
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

/// How `image` is served.
pub fn served(store: &Store, image: &Image) -> Result<ServedManifest, ApiError> {
    Ok(store.served_manifest(image)?)
}

/// The manifest of `images` served by `digest`.
pub fn served_by_digest(
    store: &Store,
    images: &[&Image],
    digest: &Digest,
) -> Result<Option<ServedManifest>, ApiError> {
    for image in images {
        if let Some(served) = store.served_manifest_by_digest(image, digest)? {
            return Ok(Some(served));
        }
    }
    Ok(None)
}

/// The manifest `repo` serves under `reference`: a tag's image index or
/// image, or an index, or a manifest of one of its images, by digest.
pub fn served_by_reference(
    store: &Store,
    repo: &Repo,
    reference: &ManifestRef,
) -> Result<Option<ServedManifest>, ApiError> {
    match reference {
        ManifestRef::Tag(tag) => match (repo.indexes.get(tag), repo.tags.get(tag)) {
            (Some(index), _) => Ok(Some(store.served_index(index)?)),
            (None, Some(image)) => Ok(Some(served(store, image)?)),
            (None, None) => Ok(None),
        },
        ManifestRef::Digest(digest) => {
            if let Some(index) = repo.indexes.values().find(|i| &i.digest == digest) {
                return Ok(Some(store.served_index(index)?));
            }
            served_by_digest(store, &repo.images(), digest)
        }
    }
}

/// The blob `digest` among those the images `images` are served with.
pub fn find_blob(
    store: &Store,
    images: &[&Image],
    digest: &Digest,
) -> Result<Option<Blob>, ApiError> {
    for image in images {
        let blob = match store.served_blob(image, digest)? {
            None => continue,
            Some(ServedBlob::Config) => Blob::Config(store.image_config_bytes(image)?),
            Some(ServedBlob::LayerTar { layer, size }) => Blob::Layer(LayerBlob {
                id: layer,
                diff_id: digest.clone(),
                size,
            }),
            Some(ServedBlob::Stored { size }) => Blob::Stored {
                digest: digest.clone(),
                size,
            },
        };
        return Ok(Some(blob));
    }
    Ok(None)
}

/// The manifest of digest `digest` of whichever image of the store keeps
/// it (one pushed by digest, which no name serves yet).
pub fn pushed_manifest(store: &Store, digest: &Digest) -> Result<Option<ServedManifest>, ApiError> {
    let images = store.images()?;
    let keeping: Vec<&Image> = images
        .iter()
        .filter(|image| image.manifests.contains(digest))
        .collect();
    served_by_digest(store, &keeping, digest)
}
