//! Pushing an image from the store to a registry, as `podman push` does:
//! the layers first, several at once (each reused, mounted or compressed
//! and uploaded; see `push_layer`), then the config, then the manifest
//! (see `push_manifest`). The layers are held by a lease while their
//! tars are read, so removing the image meanwhile cannot pull them away.
//! A push writes nothing to the store but hints about where blobs are,
//! so a push killed at any point leaves the store as it was; pushing
//! again finds the blobs that made it and sends only the rest.

use std::io::{Cursor, Read};
use std::sync::atomic::AtomicBool;

use serde::Serialize;
use strata_registry::Client;

use super::parallel::each_until_failure;
use super::push_layer::{LayerPush, Route};
use super::push_manifest::{SentLayer, StoredManifest, format_for, manifest_for, stored};
use super::send::target;
use super::{RegistryOptions, TransferProgress, client_for};
use crate::compression::Compression;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::reference::Reference;
use crate::image::{Descriptor, media};
use crate::store::{Image, Lease, Store, normalize_name};
use crate::transport::save::{LayerBlob, image_layers};

/// Options of a push.
#[derive(Clone)]
pub struct PushOptions<'a> {
    /// How to reach the registry.
    pub registry: RegistryOptions,
    /// How layers that must be uploaded are compressed: gzip (the
    /// default) or zstd. Blobs the registry has already are reused
    /// whatever their compression.
    pub compression: Compression,
    /// Called as blobs move.
    pub progress: Option<TransferProgress<'a>>,
}

impl Default for PushOptions<'_> {
    fn default() -> Self {
        Self {
            registry: RegistryOptions::default(),
            compression: Compression::Gzip,
            progress: None,
        }
    }
}

impl std::fmt::Debug for PushOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushOptions")
            .field("registry", &self.registry)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

/// What a push did.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// The image's id.
    pub image: String,
    /// Where it went, in full (`localhost:5000/app:1`).
    pub destination: String,
    /// The digest of the manifest pushed.
    pub manifest_digest: Digest,
    /// Whether that manifest is the one the image was pulled or loaded
    /// with (so its digest is the one it had).
    pub manifest_kept: bool,
    /// Layers compressed and uploaded.
    pub uploaded: usize,
    /// Layers the repository had already.
    pub existing: usize,
    /// Layers mounted from another repository of the registry.
    pub mounted: usize,
}

/// Pushes the image `image` names to `destination` (the name it was
/// asked by, else its first name, when absent).
pub(crate) fn push(
    store: &Store,
    image: &str,
    destination: Option<&str>,
    options: &PushOptions<'_>,
) -> Result<PushReport> {
    if !matches!(options.compression, Compression::Gzip | Compression::Zstd) {
        return Err(Error::Invalid(format!(
            "cannot push layers compressed with {}: use gzip or zstd",
            options.compression.name()
        )));
    }
    let found = store.image(image)?;
    let destination = destination_of(&found, image, destination)?;
    let client = client_for(&destination, &options.registry)?;
    let lease = store.lease()?;
    let pushed = hold(store, &lease, &found).and_then(|()| {
        Pusher {
            store,
            client: &client,
            destination: &destination,
            options,
        }
        .push(&found)
    });
    let released = store.release(lease);
    let pushed = pushed?;
    released?;
    Ok(pushed)
}

/// Where to push `image`, asked for as `asked`.
fn destination_of(image: &Image, asked: &str, destination: Option<&str>) -> Result<Reference> {
    let text = match destination {
        Some(text) => text.to_string(),
        None => {
            let by_name = normalize_name(asked)
                .ok()
                .filter(|name| image.names.contains(name));
            match by_name.or_else(|| image.names.first().cloned()) {
                Some(name) => name,
                None => {
                    return Err(Error::Invalid(format!(
                        "image {} has no name to push it to: give a destination",
                        image.id
                    )));
                }
            }
        }
    };
    Ok(Reference::parse(&text)?)
}

fn hold(store: &Store, lease: &Lease, image: &Image) -> Result<()> {
    for layer in &image.layers {
        if !store.hold_layer(lease, layer)? {
            return Err(Error::LayerNotFound(layer.clone()));
        }
    }
    Ok(())
}

struct Pusher<'a> {
    store: &'a Store,
    client: &'a Client,
    destination: &'a Reference,
    options: &'a PushOptions<'a>,
}

impl Pusher<'_> {
    fn push(&self, image: &Image) -> Result<PushReport> {
        let repository = self.destination.path();
        let config_bytes = self.store.image_config_bytes(image)?;
        let config = Descriptor::of(media::OCI_CONFIG, &config_bytes);
        let layers = image_layers(self.store, image, &config_bytes)?;
        let kept = stored(self.store, image, &config.digest, layers.len())?;
        let format = format_for(kept.as_ref(), self.options.compression);
        let sender = LayerPush {
            store: self.store,
            client: self.client,
            repository,
            format,
            compression: self.options.compression,
            progress: self.options.progress,
        };
        let sent = self.send_layers(&sender, &layers, kept.as_ref())?;
        self.send_config(repository, &config, &config_bytes)?;
        let layers_sent: Vec<SentLayer> = sent.iter().map(|(layer, _)| layer.clone()).collect();
        let (manifest, media_type) = manifest_for(kept.as_ref(), format, &config, &layers_sent)?;
        let manifest_digest = Digest::of(&manifest);
        let reference = target(self.destination, &manifest)?;
        let answered = self
            .client
            .put_manifest(repository, &reference, &media_type, &manifest)?;
        if answered != manifest_digest.to_string() {
            return Err(Error::Malformed {
                what: format!(
                    "the registry's answer to the manifest of {}",
                    self.destination
                ),
                reason: format!("it stored it as {answered}, not {manifest_digest}"),
            });
        }
        let count = |route| sent.iter().filter(|(_, r)| *r == route).count();
        Ok(PushReport {
            image: image.id.clone(),
            destination: self.destination.to_string(),
            manifest_kept: kept.as_ref().is_some_and(|k| k.bytes == manifest),
            manifest_digest,
            uploaded: count(Route::Uploaded),
            existing: count(Route::Existing),
            mounted: count(Route::Mounted),
        })
    }

    /// Sends the layers, `max_parallel` at a time; the first failure
    /// stops the rest from starting.
    fn send_layers(
        &self,
        sender: &LayerPush<'_>,
        layers: &[LayerBlob],
        kept: Option<&StoredManifest>,
    ) -> Result<Vec<(SentLayer, Route)>> {
        let failed = AtomicBool::new(false);
        each_until_failure(
            layers,
            self.options.registry.max_parallel,
            &failed,
            |at, layer| sender.send(layer, kept.and_then(|k| k.manifest.layers.get(at))),
        )
    }

    fn send_config(&self, repository: &str, config: &Descriptor, bytes: &[u8]) -> Result<()> {
        if self
            .client
            .blob_size(repository, config.digest.as_str())?
            .is_some()
        {
            return Ok(());
        }
        let known = strata_registry::Pushed {
            digest: config.digest.to_string(),
            size: config.size,
        };
        let mut open = || -> std::io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(Cursor::new(bytes.to_vec())))
        };
        self.client
            .upload_blob(repository, Some(&known), &mut open)?;
        Ok(())
    }
}
