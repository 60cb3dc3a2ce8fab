//! Copying an image between two places outside the store (docker-archive,
//! OCI layout, OCI archive, registry), directly: the source is read in
//! place (an uncompressed archive file is not unpacked; a compressed one
//! or a pipe is decompressed into the store's staging area first, as a
//! load does; a registry's blobs are downloaded into a scratch directory
//! of the copy's lease, see `registry::image_in`), and the destination is
//! written by the save writers, the layers streaming from the source's
//! files, or sent to a registry (see `direct_push`). Nothing enters the
//! store's images.
//!
//! What is kept and what is re-packed:
//! - the config is copied byte for byte, so the image id is kept;
//! - into an OCI layout or OCI archive, a source that comes with a
//!   manifest (an OCI layout, a Docker 25+ archive) keeps it byte for
//!   byte, and its layer blobs as they are (compressed or not): the
//!   manifest digest is kept. A source without one (a legacy or podman
//!   docker archive) gets one generated as a save generates it, over the
//!   layers as uncompressed tars;
//! - into a docker archive, layers are uncompressed tars named by diff id
//!   (what `docker load` reads): a compressed layer is decompressed; the
//!   source manifest is kept only if it already describes exactly that;
//! - a registry source is a source with a manifest (the registry's bytes)
//!   whose layers are the blobs it names, compressed or not. Into an OCI
//!   layout or archive a Docker schema 2 manifest is converted to an OCI
//!   one over the same config and blobs, as skopeo converts it (OCI
//!   layout readers skip other manifest types); the config bytes are
//!   kept, unlike skopeo, so the image id is.
//!
//! Checks: every config, manifest and blob is checked against the digest
//! naming it as the source is read (as a load checks them); a layer that
//! is decompressed is hashed first and must match its diff id before a
//! byte is written, and an uncompressed one must hash to its diff id as
//! it streams. A failed copy leaves no archive behind (it is written aside
//! and named once complete) and no layout directory it created; in an
//! existing layout it leaves at most unreferenced blobs.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};

use super::archive_in::{ArchiveIn, Input};
use super::copy::{Copied, CopyOptions};
use super::location::Location;
use super::plan::Plan;
use super::progress::ReportingLayers;
use super::registry::fetch_image;
use super::save::{Destination, ForeignImage, LayerBlob, LayerTars, SaveFormat, write_foreign};
use super::source::{DirSource, Source};
use super::{docker_archive, oci_layout};
use crate::compression::{self, Compression};
use crate::digest::{Digest, DigestReader};
use crate::error::{Error, IoContext, Result};
use crate::fs::write_output;
use crate::image::manifest::malformed;
use crate::image::{Descriptor, Manifest, media, reference};
use crate::store::Store;

/// Copies the image `from` names to `to`, neither being the store nor
/// both registries.
pub(crate) fn copy(
    store: &Store,
    from: &Location,
    to: &Location,
    options: &CopyOptions<'_>,
) -> Result<Copied> {
    let lease = store.lease()?;
    let scratch = lease.dir();
    let copied = (|| match from {
        Location::DockerArchive { path, reference } | Location::OciArchive { path, reference } => {
            let file = File::open(path).context(|| format!("cannot open {}", path.display()))?;
            let archive = ArchiveIn::open_told(Input::File(file), scratch, options.progress)?;
            let plans = docker_archive::plans(&archive, Some(selected(reference)))?;
            copy_plan(&archive, plans, to, options, scratch)
        }
        Location::Oci { dir, reference } => {
            let source = DirSource::new(dir)?;
            let plans = oci_layout::plans(&source, Some(selected(reference)))?;
            copy_plan(&source, plans, to, options, scratch)
        }
        Location::Docker { reference } => {
            let fetched = scratch.join("registry-in");
            let (plan, source) = fetch_image(
                reference,
                &options.source,
                options.platform.as_ref(),
                options.progress,
                &fetched,
            )?;
            // The download told the progress of each blob; writing them
            // out of the scratch directory is not told again.
            let quiet = CopyOptions {
                progress: None,
                ..options.clone()
            };
            copy_plan(&source, vec![plan], to, &quiet, scratch)
        }
        Location::Strata { .. } => Err(Error::Invalid("a direct copy has no store side".into())),
    })();
    let released = store.release(lease);
    let id = copied?;
    released?;
    Ok(id)
}

/// The image a source reference selects: the first when none is given.
fn selected(reference: &Option<String>) -> &str {
    reference.as_deref().unwrap_or("@0")
}

fn copy_plan(
    source: &dyn Source,
    plans: Vec<Plan>,
    to: &Location,
    options: &CopyOptions<'_>,
    scratch: &std::path::Path,
) -> Result<Copied> {
    let plan = plans
        .into_iter()
        .next()
        .ok_or_else(|| malformed("the source", "it holds no image"))?;
    if let Location::Docker { reference } = to {
        let scratch = scratch.join("registry-out");
        return super::direct_push::push(source, &plan, reference, options, &scratch);
    }
    let unpack = matches!(to, Location::DockerArchive { .. });
    let mut plan = plan;
    if !unpack && let Some(bytes) = &plan.manifest {
        plan.manifest = Some(oci_form(bytes)?);
    }
    let (layers, manifest, tars) = layers_of(source, &plan, unpack)?;
    let tars = ReportingLayers {
        inner: &tars,
        progress: options.progress,
    };
    let id = Digest::of(&plan.config).hex().to_string();
    let (name, ref_name) = naming(&plan, to)?;
    let image = ForeignImage {
        config: plan.config,
        manifest,
        layers,
        name,
        ref_name,
    };
    match to {
        Location::DockerArchive { path, .. } => write_output(path, |out| {
            write_foreign(
                image,
                &tars,
                Destination::Archive(SaveFormat::DockerArchive, out),
            )
        })
        .map(|_| ()),
        Location::OciArchive { path, .. } => write_output(path, |out| {
            write_foreign(
                image,
                &tars,
                Destination::Archive(SaveFormat::OciArchive, out),
            )
        })
        .map(|_| ()),
        Location::Oci { dir, .. } => {
            let created = !dir.exists();
            let written = write_foreign(image, &tars, Destination::Dir(dir));
            if written.is_err() && created {
                let _ = std::fs::remove_dir_all(dir);
            }
            written.map(|_| ())
        }
        Location::Strata { .. } | Location::Docker { .. } => {
            Err(Error::Invalid("a direct copy has no store side".into()))
        }
    }?;
    Ok(Copied::Saved { image: id })
}

/// A manifest as an OCI layout keeps it: an OCI manifest as it is; a
/// Docker schema 2 one (as a registry serves it) with the same config
/// and blobs under their OCI media types, as skopeo converts it (OCI
/// layout readers, skopeo's among them, skip entries of other types).
/// Unlike skopeo, the config's bytes are kept, and so the image id.
fn oci_form(bytes: &[u8]) -> Result<Vec<u8>> {
    let manifest = Manifest::parse("the source manifest", bytes)?;
    if manifest.media_type.as_deref() != Some(media::DOCKER_MANIFEST) {
        return Ok(bytes.to_vec());
    }
    let layer_type = |docker: &str| match docker {
        media::DOCKER_LAYER_GZIP => media::OCI_LAYER_GZIP.to_string(),
        media::DOCKER_LAYER_FOREIGN => NONDISTRIBUTABLE_GZIP.to_string(),
        DOCKER_LAYER_TAR => media::OCI_LAYER_TAR.to_string(),
        other => other.to_string(),
    };
    let converted = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.to_string()),
        config: Descriptor {
            media_type: media::OCI_CONFIG.to_string(),
            ..manifest.config
        },
        layers: manifest
            .layers
            .into_iter()
            .map(|layer| Descriptor {
                media_type: layer_type(&layer.media_type),
                ..layer
            })
            .collect(),
    };
    serde_json::to_vec(&converted)
        .map_err(|e| Error::Invalid(format!("cannot write the manifest: {e}")))
}

/// Docker's media type for an uncompressed layer.
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// OCI's media type for a gzip layer that may not be redistributed.
const NONDISTRIBUTABLE_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

/// The name and OCI ref name the copy records, as a save from the store
/// records them: the destination's reference, else the source's name.
fn naming(plan: &Plan, to: &Location) -> Result<(Option<reference::Reference>, Option<String>)> {
    let own = plan.names.first().and_then(|n| reference::parse(n).ok());
    match to {
        Location::DockerArchive {
            reference: Some(given),
            ..
        } => Ok((Some(reference::parse(given)?), None)),
        Location::Oci {
            reference: Some(given),
            ..
        }
        | Location::OciArchive {
            reference: Some(given),
            ..
        } => Ok((
            own.or_else(|| reference::parse(given).ok()),
            Some(given.clone()),
        )),
        _ => Ok((own, None)),
    }
}

/// How one layer's blob is written.
#[derive(Debug, Clone)]
enum Copying {
    /// The file as it is; it must hash to the digest.
    AsIs(Digest),
    /// The file decompressed; the tar must hash to the diff id.
    Unpacked(Digest),
}

/// The layers a copy writes, the manifest it keeps, and how each layer's
/// blob is made from the source.
fn layers_of<'a>(
    source: &'a dyn Source,
    plan: &Plan,
    unpack: bool,
) -> Result<(Vec<LayerBlob>, Option<Vec<u8>>, SourceLayers<'a>)> {
    let mut tars = SourceLayers {
        source,
        how: HashMap::new(),
    };
    if !unpack && let Some(kept) = as_is(source, plan)? {
        for blob in &kept {
            let digest = blob.diff_id.clone();
            tars.how.insert(blob.id.clone(), Copying::AsIs(digest));
        }
        return Ok((kept, plan.manifest.clone(), tars));
    }
    let mut blobs = Vec::new();
    for (file, diff_id) in plan.layers.iter().zip(&plan.diff_ids) {
        let format = {
            let (format, _) = compression::decompress(source.open(&file.path)?)
                .context(|| format!("cannot read layer {}", file.path))?;
            format
        };
        let (size, how) = if format == Compression::None {
            (source.size(&file.path)?, Copying::AsIs(diff_id.clone()))
        } else {
            (
                measure(source, &file.path, diff_id)?,
                Copying::Unpacked(diff_id.clone()),
            )
        };
        tars.how.insert(file.path.clone(), how);
        blobs.push(LayerBlob {
            id: file.path.clone(),
            diff_id: diff_id.clone(),
            size,
        });
    }
    Ok((blobs, plan.manifest.clone(), tars))
}

/// The layers of `plan` as its manifest names them, when it has one and
/// each layer's file is the blob its descriptor names.
pub(super) fn as_is(source: &dyn Source, plan: &Plan) -> Result<Option<Vec<LayerBlob>>> {
    let Some(bytes) = &plan.manifest else {
        return Ok(None);
    };
    let manifest = Manifest::parse("the source manifest", bytes)?;
    let mut blobs = Vec::new();
    for (descriptor, file) in manifest.layers.iter().zip(&plan.layers) {
        if file.digest.as_ref() != Some(&descriptor.digest)
            || source.size(&file.path)? != descriptor.size
        {
            return Ok(None);
        }
        blobs.push(LayerBlob {
            id: file.path.clone(),
            diff_id: descriptor.digest.clone(),
            size: descriptor.size,
        });
    }
    Ok(Some(blobs))
}

/// Decompresses layer `path` to learn its tar's length, checking that the
/// tar hashes to `diff_id`.
pub(super) fn measure(source: &dyn Source, path: &str, diff_id: &Digest) -> Result<u64> {
    let (_, tar) = compression::decompress(source.open(path)?)
        .context(|| format!("cannot read layer {path}"))?;
    let mut hashing = DigestReader::new(tar);
    io::copy(&mut hashing, &mut io::sink())
        .context(|| format!("cannot decompress layer {path}"))?;
    let (actual, size) = hashing.finish();
    check(path, diff_id, &actual)?;
    Ok(size)
}

fn check(path: &str, expected: &Digest, actual: &Digest) -> Result<()> {
    if actual != expected {
        return Err(Error::ContentMismatch {
            what: format!("layer {path}"),
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Layer blobs made from the source's files.
struct SourceLayers<'a> {
    source: &'a dyn Source,
    /// How each file (by path) is copied.
    how: HashMap<String, Copying>,
}

impl LayerTars for SourceLayers<'_> {
    fn write_layer(&self, layer: &LayerBlob, out: &mut dyn Write) -> Result<()> {
        let path = &layer.id;
        let how = self
            .how
            .get(path)
            .ok_or_else(|| Error::Invalid(format!("layer {path} was not planned")))?;
        let file = self.source.open(path)?;
        let (reader, expected): (Box<dyn Read + Send + '_>, &Digest) = match how {
            Copying::AsIs(digest) => (file, digest),
            Copying::Unpacked(diff_id) => {
                let (_, tar) = compression::decompress(file)
                    .context(|| format!("cannot read layer {path}"))?;
                (tar, diff_id)
            }
        };
        let mut hashing = DigestReader::new(reader.take(layer.size.saturating_add(1)));
        io::copy(&mut hashing, out).context(|| format!("cannot copy layer {path}"))?;
        let (actual, size) = hashing.finish();
        if size != layer.size {
            return Err(malformed(
                &format!("layer {path}"),
                format!("it is not the {} bytes expected", layer.size),
            ));
        }
        check(path, expected, &actual)
    }
}
