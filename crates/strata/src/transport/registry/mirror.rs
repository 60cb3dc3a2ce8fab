//! Copying an image from one registry to another (`docker://A` to
//! `docker://B`) without the store or a scratch copy: the image manifest
//! for the platform asked for (as `skopeo copy` without `--all`), or with
//! `all` an index whole, each of its manifests by digest and then the
//! index; every blob streamed from one registry's `GET` into the other's
//! upload (or mounted, when both repositories are in the same registry);
//! manifests sent as their bytes, so their digests are kept.

use std::collections::HashMap;
use std::io::Read;

use strata_registry::Client;

use super::pull::{kind_of, resolve};
use super::send::{Blobs, Destination, Outgoing, send_to, target};
use super::{PlatformSpec, RegistryOptions, TransferProgress, client_for, registry_host};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::manifest::{Index, Manifest, malformed};
use crate::image::media;
use crate::image::reference::Reference;

/// What a registry to registry copy did.
pub(crate) struct Mirrored {
    /// The image's id (its config digest, hex); none for an index.
    pub image: Option<String>,
    /// The digest of the manifest (or index) named by the destination,
    /// the same on both sides.
    pub manifest_digest: Digest,
}

/// Both ends of a registry to registry copy, and how it goes.
pub(crate) struct Ends<'a> {
    /// The source's options.
    pub source: &'a RegistryOptions,
    /// The destination's options.
    pub destination: &'a RegistryOptions,
    /// The platform to pick from an index (without `all`).
    pub platform: Option<&'a PlatformSpec>,
    /// Copy an index whole.
    pub all: bool,
    /// Called as blobs move.
    pub progress: Option<TransferProgress<'a>>,
}

/// Copies `from` to `to`.
pub(crate) fn mirror(from: &str, to: &str, ends: &Ends<'_>) -> Result<Mirrored> {
    let from = Reference::parse(from)?;
    let to = Reference::parse(to)?;
    let source = client_for(&from, ends.source)?;
    let destination = client_for(&to, ends.destination)?;
    let reading = Reading {
        client: &source,
        host: registry_host(from.domain()).to_string(),
        repository: from.path().to_string(),
    };
    let writing = Destination {
        client: &destination,
        repository: to.path(),
        max_parallel: ends.destination.max_parallel,
    };
    if ends.all {
        let first = match (from.digest(), from.tag()) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.to_string(),
            (None, None) => "latest".to_string(),
        };
        let fetched = source.manifest(from.path(), &first)?;
        let what = format!("manifest {}", fetched.digest);
        let kind = kind_of(&what, &fetched.media_type, &fetched.bytes)?;
        if media::is_index(&kind) {
            let index = Index::parse(&what, &fetched.bytes)?;
            for entry in &index.manifests {
                let child = source.manifest(from.path(), entry.digest.as_str())?;
                let child_what = format!("manifest {}", entry.digest);
                if child.bytes.len() as u64 != entry.size {
                    return Err(malformed(
                        &child_what,
                        format!(
                            "it is {} bytes, the index says {}",
                            child.bytes.len(),
                            entry.size
                        ),
                    ));
                }
                let child_kind = kind_of(&child_what, &child.media_type, &child.bytes)?;
                if media::is_index(&child_kind) {
                    return Err(malformed(&what, "it nests indexes, which are not copied"));
                }
                let image = outgoing(&child_what, child.bytes, child_kind)?;
                send_to(
                    &writing,
                    entry.digest.as_str(),
                    &image,
                    &reading.blobs(&image),
                    ends.progress,
                )?;
            }
            let name = target(&to, &fetched.bytes)?;
            destination.put_manifest(to.path(), &name, &kind, &fetched.bytes)?;
            return Ok(Mirrored {
                image: None,
                manifest_digest: Digest::of(&fetched.bytes),
            });
        }
    }
    let platform = ends.platform.cloned().unwrap_or_else(PlatformSpec::host);
    let resolved = resolve(&source, &from, &platform)?;
    let image = outgoing(
        &format!("manifest {}", resolved.manifest_digest),
        resolved.manifest,
        resolved.media_type,
    )?;
    let name = target(&to, &image.manifest)?;
    let manifest_digest = send_to(
        &writing,
        &name,
        &image,
        &reading.blobs(&image),
        ends.progress,
    )?;
    Ok(Mirrored {
        image: Some(Digest::of(&resolved.config).hex().to_string()),
        manifest_digest,
    })
}

/// An image manifest to send as it is, with the blobs it names.
fn outgoing(what: &str, bytes: Vec<u8>, media_type: String) -> Result<Outgoing> {
    let manifest = Manifest::parse(what, &bytes)?;
    let blobs = std::iter::once(&manifest.config)
        .chain(&manifest.layers)
        .map(|d| (d.digest.clone(), d.size))
        .collect();
    Ok(Outgoing {
        manifest: bytes,
        media_type,
        blobs,
    })
}

/// The source repository.
struct Reading<'a> {
    client: &'a Client,
    host: String,
    repository: String,
}

impl<'a> Reading<'a> {
    /// The blobs of `image`, read from here.
    fn blobs(&self, image: &Outgoing) -> RegistryBlobs<'a, '_> {
        RegistryBlobs {
            from: self,
            sizes: image.blobs.iter().cloned().collect(),
        }
    }
}

/// Blobs read from the source registry.
struct RegistryBlobs<'a, 'r> {
    from: &'r Reading<'a>,
    sizes: HashMap<Digest, u64>,
}

impl Blobs for RegistryBlobs<'_, '_> {
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + Send + '_>> {
        let size = self
            .sizes
            .get(digest)
            .ok_or_else(|| Error::Invalid(format!("blob {digest} is not the image's")))?;
        let reader =
            self.from
                .client
                .blob(&self.from.repository, digest.as_str(), Some(*size), 0)?;
        Ok(Box::new(reader))
    }

    fn mountable_from(&self) -> Option<(&str, &str)> {
        Some((&self.from.host, &self.from.repository))
    }
}
