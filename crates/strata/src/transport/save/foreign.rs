//! Writing an image that is not in the store (one read from another
//! archive or layout) with the writers of a save: the same member order,
//! headers and metadata files, the layers coming from a [`LayerTars`] of
//! the caller's.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::layer::LayerTars;
use super::plan::{LayerBlob, Naming, Plan, PlannedImage};
use super::{SaveFormat, SaveReport, archive, legacy, manifest, oci_dir};
use crate::error::{Error, Result};
use crate::image::reference::Reference;
use crate::image::{Descriptor, Manifest, media};

/// An image from outside the store.
pub(crate) struct ForeignImage {
    /// Its config, exactly as found.
    pub config: Vec<u8>,
    /// The manifest to keep, exactly as found: in an OCI layout it is
    /// written as it is (its layers must be `layers`); in a docker archive
    /// only if it describes `layers` as uncompressed tars, else a manifest
    /// is generated as a save generates one.
    pub manifest: Option<Vec<u8>>,
    /// Its layer blobs, base first.
    pub layers: Vec<LayerBlob>,
    /// The name to record; `None` writes it untagged.
    pub name: Option<Reference>,
    /// In an OCI layout, the index entry's ref name as asked for.
    pub ref_name: Option<String>,
}

/// Where a foreign image is written.
pub(crate) enum Destination<'a> {
    /// An archive in `format`, to the output.
    Archive(SaveFormat, &'a mut dyn Write),
    /// An OCI layout directory, created if missing, its index merged.
    Dir(&'a Path),
}

/// Writes `image`, its layers coming from `layers`, to `destination`.
pub(crate) fn write(
    image: ForeignImage,
    layers: &dyn LayerTars,
    destination: Destination<'_>,
) -> Result<SaveReport> {
    let naming = match &destination {
        Destination::Archive(SaveFormat::DockerArchive | SaveFormat::DockerArchiveV1, _) => {
            Naming::Docker
        }
        _ => Naming::Oci,
    };
    let plan = plan(image, naming)?;
    match destination {
        Destination::Archive(SaveFormat::DockerArchiveV1, out) => legacy::write(layers, &plan, out),
        Destination::Archive(format, out) => archive::write(layers, &plan, format, out),
        Destination::Dir(dir) => oci_dir::write(layers, &plan, dir),
    }
}

/// The plan of a save of one foreign image.
fn plan(image: ForeignImage, naming: Naming) -> Result<Plan> {
    if let Some(name) = &image.name
        && naming == Naming::Docker
        && name.tag().is_none()
    {
        return Err(Error::Invalid(format!(
            "cannot write {name} in a docker archive: docker archives name images by tag, and it has none"
        )));
    }
    let config = Descriptor::of(media::OCI_CONFIG, &image.config);
    let kept = image.manifest.filter(|bytes| match naming {
        Naming::Oci => true,
        Naming::Docker => manifest::fits(bytes, &config, &image.layers),
    });
    let manifest_bytes = match kept {
        Some(bytes) => bytes,
        None => manifest::generate(&config, &image.layers)?,
    };
    let parsed = Manifest::parse("the manifest", &manifest_bytes)?;
    let manifest_type = parsed.media_type.as_deref().unwrap_or(media::OCI_MANIFEST);
    let mut blobs = BTreeMap::new();
    blobs.insert(config.digest.clone(), image.config);
    let manifest = Descriptor::of(manifest_type, &manifest_bytes);
    blobs.insert(manifest.digest.clone(), manifest_bytes);
    let mut distinct: Vec<LayerBlob> = Vec::new();
    for layer in &image.layers {
        if !distinct.iter().any(|d| d.diff_id == layer.diff_id) {
            distinct.push(layer.clone());
        }
    }
    let ref_names = match (&image.name, image.ref_name) {
        (Some(name), Some(ref_name)) => BTreeMap::from([(name.to_string(), ref_name)]),
        _ => BTreeMap::new(),
    };
    Ok(Plan {
        images: vec![PlannedImage {
            config,
            manifest,
            names: image.name.into_iter().collect(),
            layers: image.layers,
        }],
        blobs,
        layers: distinct,
        naming,
        ref_names,
    })
}
