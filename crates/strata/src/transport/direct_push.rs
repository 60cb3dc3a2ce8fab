//! Sending an archive's or layout's image to a registry (`docker://REF`
//! as the destination of a direct copy), through `registry::send`.
//!
//! What is sent:
//! - a source that comes with a manifest whose layers are its files (an
//!   OCI layout, an OCI archive, a Docker 25+ archive) keeps it byte for
//!   byte, and its config and layer blobs as they are, compressed or not:
//!   the manifest digest is kept;
//! - a source without one (a legacy or podman docker archive) gets a
//!   Docker schema 2 manifest over gzip-compressed layers. That is what
//!   skopeo does with such an archive (`skopeo copy docker-archive:…
//!   docker://…` sends `…rootfs.diff.tar.gzip` layers under a schema 2
//!   manifest; skopeo compresses whenever a registry is the destination),
//!   and what registries and their clients expect: uncompressed layers
//!   would be several times the bytes on every later pull. A layer that
//!   is already gzip is sent as it is.
//!
//! Layers to compress are compressed into the copy's scratch directory
//! first, so each blob's digest and size are known before the registry
//! is asked whether it has it; each uncompressed tar is checked against
//! its diff id on the way.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::copy::{Copied, CopyOptions};
use super::direct::{as_is, measure};
use super::plan::Plan;
use super::registry::{Blobs, Outgoing, send};
use super::source::Source;
use crate::compression::{self, Compression, Encoder};
use crate::digest::{Digest, DigestReader, DigestWriter};
use crate::error::{Error, IoContext, Result};
use crate::image::reference::Reference;
use crate::image::{Descriptor, Manifest, media};

/// Sends the image of `plan`, its files in `source`, to `reference`.
pub(super) fn push(
    source: &dyn Source,
    plan: &Plan,
    reference: &str,
    options: &CopyOptions<'_>,
    scratch: &Path,
) -> Result<Copied> {
    let reference = Reference::parse(reference)?;
    let mut blobs = FileBlobs {
        source,
        at: HashMap::new(),
    };
    let image = match kept(source, plan, &mut blobs)? {
        Some(image) => image,
        None => generated(source, plan, &mut blobs, scratch)?,
    };
    let manifest_digest = send(
        &reference,
        &options.destination,
        &image,
        &blobs,
        options.progress,
    )?;
    Ok(Copied::Pushed {
        image: Some(Digest::of(&plan.config).hex().to_string()),
        manifest_digest,
    })
}

/// The image with the source's manifest, when it has one whose layers
/// are its files.
fn kept(source: &dyn Source, plan: &Plan, blobs: &mut FileBlobs<'_>) -> Result<Option<Outgoing>> {
    let Some(bytes) = &plan.manifest else {
        return Ok(None);
    };
    let Some(layers) = as_is(source, plan)? else {
        return Ok(None);
    };
    let manifest = Manifest::parse("the source manifest", bytes)?;
    if manifest.config.digest != Digest::of(&plan.config) {
        return Ok(None);
    }
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| media::OCI_MANIFEST.to_string());
    for layer in &layers {
        blobs
            .at
            .insert(layer.diff_id.clone(), Place::Source(layer.id.clone()));
    }
    Ok(Some(Outgoing {
        manifest: bytes.clone(),
        media_type,
        blobs: blobs.with_config(plan, layers.into_iter().map(|l| (l.diff_id, l.size))),
    }))
}

/// The image with a Docker schema 2 manifest over gzip layers.
fn generated(
    source: &dyn Source,
    plan: &Plan,
    blobs: &mut FileBlobs<'_>,
    scratch: &Path,
) -> Result<Outgoing> {
    std::fs::create_dir_all(scratch).context(|| format!("cannot create {}", scratch.display()))?;
    let mut layers = Vec::new();
    for (file, diff_id) in plan.layers.iter().zip(&plan.diff_ids) {
        let (format, _) = compression::decompress(source.open(&file.path)?)
            .context(|| format!("cannot read layer {}", file.path))?;
        let (digest, size, place) = if format == Compression::Gzip {
            measure(source, &file.path, diff_id)?;
            let mut hashing = DigestReader::new(source.open(&file.path)?);
            io::copy(&mut hashing, &mut io::sink())
                .context(|| format!("cannot read layer {}", file.path))?;
            let (digest, size) = hashing.finish();
            (digest, size, Place::Source(file.path.clone()))
        } else {
            let (digest, size, path) = compress(source, &file.path, diff_id, scratch)?;
            (digest, size, Place::Scratch(path))
        };
        blobs.at.insert(digest.clone(), place);
        layers.push(Descriptor {
            media_type: media::DOCKER_LAYER_GZIP.to_string(),
            digest,
            size,
            urls: Vec::new(),
            annotations: Default::default(),
            platform: None,
        });
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::DOCKER_MANIFEST.to_string()),
        config: Descriptor::of(media::DOCKER_CONFIG, &plan.config),
        layers: layers.clone(),
    };
    let bytes = serde_json::to_vec(&manifest)
        .map_err(|e| Error::Invalid(format!("cannot write the manifest: {e}")))?;
    Ok(Outgoing {
        manifest: bytes,
        media_type: media::DOCKER_MANIFEST.to_string(),
        blobs: blobs.with_config(plan, layers.into_iter().map(|d| (d.digest, d.size))),
    })
}

/// Compresses layer `path` with gzip into `scratch`, checking its tar
/// against `diff_id`; returns the compressed blob's digest, size and file.
fn compress(
    source: &dyn Source,
    path: &str,
    diff_id: &Digest,
    scratch: &Path,
) -> Result<(Digest, u64, PathBuf)> {
    let (_, tar) = compression::decompress(source.open(path)?)
        .context(|| format!("cannot read layer {path}"))?;
    let mut tar = DigestReader::new(tar);
    let partial = scratch.join(format!("{}.partial", diff_id.hex()));
    let file = File::create(&partial).context(|| format!("cannot create {}", partial.display()))?;
    let written = (|| {
        let mut encoder = Encoder::new(Compression::Gzip, DigestWriter::new(BufWriter::new(file)))?;
        io::copy(&mut tar, &mut encoder)?;
        let (digest, size, mut out) = encoder.finish()?.finish();
        out.flush()?;
        Ok::<_, io::Error>((digest, size))
    })();
    let (digest, size) = written.context(|| format!("cannot compress layer {path}"))?;
    let (actual, _) = tar.finish();
    if actual != *diff_id {
        return Err(Error::ContentMismatch {
            what: format!("layer {path}"),
            expected: diff_id.to_string(),
            actual: actual.to_string(),
        });
    }
    let done = scratch.join(digest.hex());
    std::fs::rename(&partial, &done).context(|| format!("cannot rename {}", partial.display()))?;
    Ok((digest, size, done))
}

/// Where a blob's bytes are.
enum Place {
    /// A file of the source.
    Source(String),
    /// A file the copy compressed.
    Scratch(PathBuf),
    /// These bytes (the config).
    Memory(Vec<u8>),
}

/// Blobs from the source's files, the scratch directory and memory.
struct FileBlobs<'a> {
    source: &'a dyn Source,
    at: HashMap<Digest, Place>,
}

impl FileBlobs<'_> {
    /// The blobs of an image: its config (kept here), then `layers`.
    fn with_config(
        &mut self,
        plan: &Plan,
        layers: impl Iterator<Item = (Digest, u64)>,
    ) -> Vec<(Digest, u64)> {
        let config = Digest::of(&plan.config);
        self.at
            .insert(config.clone(), Place::Memory(plan.config.clone()));
        std::iter::once((config, plan.config.len() as u64))
            .chain(layers)
            .collect()
    }
}

impl Blobs for FileBlobs<'_> {
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + Send + '_>> {
        match self.at.get(digest) {
            Some(Place::Memory(bytes)) => Ok(Box::new(bytes.as_slice())),
            Some(Place::Source(path)) => self.source.open(path),
            Some(Place::Scratch(path)) => Ok(Box::new(
                File::open(path).context(|| format!("cannot open {}", path.display()))?,
            )),
            None => Err(Error::Invalid(format!("blob {digest} is not the image's"))),
        }
    }
}
