//! Saving images out of the store: `docker save` archives
//! ("docker-archive"), OCI archives ("oci-archive") and OCI image layout
//! directories ("oci").
//!
//! A docker-archive is the layout `docker save` writes since Docker 25: an
//! OCI image layout plus docker's `manifest.json` and `repositories` (the
//! legacy layout of Docker 1.10 to 24, `<v1id>/layer.tar`, is
//! [`SaveFormat::DockerArchiveV1`]; see the `legacy` module). An
//! oci-archive is the same layout without those two files:
//!
//! ```text
//! oci-layout               {"imageLayoutVersion": "1.0.0"}
//! index.json               one manifest descriptor per name (or one per untagged image)
//! manifest.json            docker-archive only: [{"Config","RepoTags","Layers","LayerSources"}]
//! repositories             docker-archive only, when some image is tagged: {"repo":{"tag":"<top diff id hex>"}}
//! blobs/
//! blobs/sha256/
//! blobs/sha256/<hex>       configs and manifests (JSON), sorted by digest
//! blobs/sha256/<diff id>   each layer's original uncompressed tar, named by its diff id
//! ```
//!
//! # Determinism
//!
//! The same images and names give the same bytes every time:
//! - every member has a USTAR header with mtime 0, uid and gid 0, empty
//!   user and group names; directories have mode 0755 and a trailing `/`,
//!   files mode 0644 (a layer too big for USTAR's size field gets a PAX
//!   `size` record instead);
//! - members come in this order: `oci-layout`, `index.json`,
//!   `manifest.json`, `repositories`, `blobs/`, `blobs/sha256/`, then the
//!   JSON blobs (configs and manifests) sorted by digest, then the layers in
//!   first-use order (images in the order given, each base first; a layer
//!   shared by several images is written once);
//! - the archive ends with two zero blocks.
//!
//! Metadata comes first on purpose: a reader of a pipe knows the images
//! before the layers stream by, and can import each layer as it arrives.
//!
//! # Manifests
//!
//! An image keeps a manifest it came with when that manifest describes
//! exactly what is saved: its config is the image's config and its layers
//! are uncompressed OCI tars whose digests and sizes are the diff ids and
//! tar sizes (so a load → save round trip keeps the manifest digest).
//! Otherwise a manifest is generated as docker generates it: compact JSON,
//! OCI media types, no trailing newline.
//!
//! # Streaming and checks
//!
//! Each layer's tar is rebuilt by the store (bit for bit, via tar-split)
//! straight into the output: its header is written with the recorded tar
//! size first, and the save fails, naming the layer, if the rebuilt tar is
//! longer or shorter or does not hash to the diff id. Memory stays flat
//! whatever the layer sizes. A failed save leaves a partial archive behind
//! (the caller removes it); the layers are held by a lease for the whole
//! save, so removing the images meanwhile cannot pull them away.

mod archive;
mod foreign;
mod go_json;
mod index_merge;
mod layer;
mod legacy;
pub(super) mod manifest;
mod metadata;
mod oci_dir;
pub(super) mod plan;
mod v1_image;

pub(crate) use foreign::{Destination, ForeignImage, write as write_foreign};
pub(crate) use layer::LayerTars;
pub(crate) use manifest::{generate as generate_manifest, to_json};
pub(crate) use plan::{LayerBlob, image_layers};

use std::io::Write;
use std::path::Path;

use super::progress::ReportingLayers;
use super::registry::TransferProgress;
use crate::error::Result;
use crate::image::reference::Reference;
use crate::store::{Image, Store};

/// The kind of archive [`Store::save`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// What `docker save` writes (Docker 25+): an OCI layout plus
    /// `manifest.json` and `repositories`; `docker load`, skopeo and podman
    /// read it.
    DockerArchive,
    /// A tarred OCI image layout, as podman's `oci-archive:` writes it.
    OciArchive,
    /// What `docker save` wrote from Docker 1.10 to 24: per layer a
    /// `<v1id>/` directory with `VERSION`, `json` and `layer.tar`, the
    /// configs as `<hex>.json`, `manifest.json` and `repositories`, with
    /// the v1 ids and member headers Docker writes (see the `legacy`
    /// module). Every image needs a layer; names need a tag.
    DockerArchiveV1,
}

/// One image to save, and the name to record for it.
#[derive(Debug, Clone)]
pub struct SaveItem {
    /// The image.
    pub image: Image,
    /// The name to record; `None` saves the image untagged.
    pub name: Option<Reference>,
    /// In an OCI layout, the index entry's ref name as asked for (`v1` in
    /// `oci:DIR:v1`); the full name when absent. Needs `name`.
    pub ref_name: Option<String>,
}

impl SaveItem {
    /// Saves `image` under `name`.
    pub fn named(image: Image, name: Reference) -> Self {
        SaveItem {
            image,
            name: Some(name),
            ref_name: None,
        }
    }

    /// Saves `image` without a name.
    pub fn untagged(image: Image) -> Self {
        SaveItem {
            image,
            name: None,
            ref_name: None,
        }
    }
}

/// What a save wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SaveReport {
    /// Distinct images saved.
    pub images: usize,
    /// Distinct layers the saved images have.
    pub layers: usize,
    /// Bytes written: the archive's length, or for a directory the bytes
    /// of the files written (blobs already present are not rewritten).
    pub bytes: u64,
}

/// How a save goes: [`Store::save_with`](crate::Store::save_with).
#[derive(Clone, Copy, Default)]
pub struct SaveOptions<'a> {
    /// Told of each layer as it is written: `Started`, `Progress` (bytes
    /// of its tar), `Done`; the blob is named by the digest the archive
    /// names it by (its diff id).
    pub progress: Option<TransferProgress<'a>>,
}

impl std::fmt::Debug for SaveOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaveOptions")
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Writes `items` to `out` as one archive in `format`.
///
/// Several items with the same image and different names save the image
/// once, with all the names (an unnamed item adds no entry for an image
/// another item names). Fails before writing anything if an image or
/// layer cannot be saved (missing, no recorded diff id, a name given to two
/// images, a docker-archive name without a tag), and part-way, naming the
/// layer, if a layer's rebuilt tar is not its recorded tar.
pub(crate) fn save_archive(
    store: &Store,
    items: &[SaveItem],
    format: SaveFormat,
    out: &mut dyn Write,
    options: &SaveOptions<'_>,
) -> Result<SaveReport> {
    let layers = ReportingLayers {
        inner: store,
        progress: options.progress,
    };
    let naming = match format {
        SaveFormat::DockerArchive | SaveFormat::DockerArchiveV1 => plan::Naming::Docker,
        SaveFormat::OciArchive => plan::Naming::Oci,
    };
    plan::with_plan(store, items, naming, |plan| match format {
        SaveFormat::DockerArchiveV1 => legacy::write(&layers, plan, out),
        _ => archive::write(&layers, plan, format, out),
    })
}

/// Writes `items` into the OCI image layout directory `dir` (skopeo's
/// `oci:DIR`), creating it if missing.
///
/// Blobs already present with the right content are kept; others are
/// written to a temporary name and renamed into place, and flushed to disk
/// before `index.json` names them. `index.json` is merged: an entry whose
/// `org.opencontainers.image.ref.name` is one of the saved names is
/// replaced, the others are kept (unknown fields included). Saved names
/// are recorded in full normalized form (`docker.io/library/alpine:3`).
pub(crate) fn save_oci_dir(
    store: &Store,
    items: &[SaveItem],
    dir: &Path,
    options: &SaveOptions<'_>,
) -> Result<SaveReport> {
    let layers = ReportingLayers {
        inner: store,
        progress: options.progress,
    };
    plan::with_plan(store, items, plan::Naming::Oci, |plan| {
        oci_dir::write(&layers, plan, dir)
    })
}
