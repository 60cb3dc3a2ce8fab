//! Copying an image from one registry to another (`docker://A` to
//! `docker://B`) without the store or a scratch copy: the image manifest
//! for the platform asked for (as `skopeo copy` without `--all`), its
//! blobs streamed from one registry's `GET` into the other's upload (or
//! mounted, when both repositories are in the same registry), and the
//! manifest's bytes sent as they are, so its digest is kept.

use std::collections::HashMap;
use std::io::Read;

use strata_registry::Client;

use super::pull::resolve;
use super::send::{Blobs, Outgoing, send};
use super::{PlatformSpec, RegistryOptions, TransferProgress, client_for, registry_host};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::reference::Reference;

/// What a registry to registry copy did.
pub(crate) struct Mirrored {
    /// The image's id (its config digest, hex).
    pub image: String,
    /// The manifest's digest, the same on both sides.
    pub manifest_digest: Digest,
}

/// Copies `from` to `to`.
pub(crate) fn mirror(
    from: &str,
    to: &str,
    source: &RegistryOptions,
    destination: &RegistryOptions,
    platform: Option<&PlatformSpec>,
    progress: Option<TransferProgress<'_>>,
) -> Result<Mirrored> {
    let from = Reference::parse(from)?;
    let to = Reference::parse(to)?;
    let client = client_for(&from, source)?;
    let platform = platform.cloned().unwrap_or_else(PlatformSpec::host);
    let resolved = resolve(&client, &from, &platform)?;
    let image = Outgoing {
        config: resolved.config,
        manifest: resolved.manifest,
        media_type: resolved.media_type,
        layers: resolved
            .layers
            .iter()
            .map(|d| (d.digest.clone(), d.size))
            .collect(),
    };
    let blobs = RegistryBlobs {
        client: &client,
        host: registry_host(from.domain()).to_string(),
        repository: from.path().to_string(),
        sizes: image.layers.iter().cloned().collect(),
    };
    let manifest_digest = send(&to, destination, &image, &blobs, progress)?;
    Ok(Mirrored {
        image: Digest::of(&image.config).hex().to_string(),
        manifest_digest,
    })
}

/// Layer blobs read from the source registry.
struct RegistryBlobs<'a> {
    client: &'a Client,
    host: String,
    repository: String,
    sizes: HashMap<Digest, u64>,
}

impl Blobs for RegistryBlobs<'_> {
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + Send + '_>> {
        let size = self
            .sizes
            .get(digest)
            .ok_or_else(|| Error::Invalid(format!("blob {digest} is not the image's")))?;
        let reader = self
            .client
            .blob(&self.repository, digest.as_str(), Some(*size), 0)?;
        Ok(Box::new(reader))
    }

    fn mountable_from(&self) -> Option<(&str, &str)> {
        Some((&self.host, &self.repository))
    }
}
