//! Pulling an image: resolve the reference to one image manifest (through
//! an index for the platform asked for), fetch and check its config, then
//! bring in the layers the store lacks. Several blobs download at once,
//! each into its resumable partial-download file; the layers are imported
//! base first, each reading its blob behind the download as it grows, so
//! extraction starts with the first bytes. All or nothing, as a load: the
//! layers are held by one lease and the image recorded once all are in.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;
use strata_registry::Client;

use super::fetch::{FetchContext, fetch, registry_error};
use super::growing::Growing;
use super::parallel::each_until_failure;
use super::{PlatformSpec, RegistryOptions, TransferEvent, TransferProgress, client_for};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::chain_ids;
use crate::image::config::ImageConfig;
use crate::image::descriptor::Descriptor;
use crate::image::manifest::{Index, MAX_JSON, Manifest, malformed};
use crate::image::media;
use crate::image::reference::Reference;
use crate::store::{BlobSource, CreateOptions, Image, Lease, NewImage, Store, Vouched};
use crate::transport::load::import_or_hold_with;
use crate::transport::plan::{LayerFile, check_layer_count};

/// How deep indexes may nest.
const MAX_NESTING: usize = 4;

/// Options of a pull.
#[derive(Clone, Default)]
pub struct PullOptions<'a> {
    /// How to reach the registry.
    pub registry: RegistryOptions,
    /// The platform to pick from a multi-platform image; this host's
    /// when absent.
    pub platform: Option<PlatformSpec>,
    /// Called as blobs move.
    pub progress: Option<TransferProgress<'a>>,
    /// Do not keep the registry's compressed layer blobs beside the
    /// layers (their size on disk again). The image is then served with a
    /// generated manifest instead of the registry's, and pushed on by
    /// compressing its layers again.
    pub discard_blobs: bool,
}

impl std::fmt::Debug for PullOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullOptions")
            .field("registry", &self.registry)
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

/// What a pull did.
#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    /// The image.
    pub image: Image,
    /// The digest of its manifest, as the registry serves it.
    pub manifest_digest: Digest,
    /// Layers fetched.
    pub fetched: usize,
    /// Layers the store had.
    pub reused: usize,
    /// Layers extracted ahead of the layers below them, needing nothing
    /// of theirs (on overlay, where layers are extracted several at once).
    pub extracted_ahead: usize,
}

/// Pulls `reference` into `store`, naming the image by it.
pub(crate) fn pull(store: &Store, reference: &str, options: &PullOptions<'_>) -> Result<Pulled> {
    pull_named(store, reference, None, options)
}

/// Pulls `reference` into `store`; the image is named `names` when given
/// (a copy to `strata:NAME`), else by the reference when it has a tag.
pub(crate) fn pull_named(
    store: &Store,
    reference: &str,
    names: Option<Vec<String>>,
    options: &PullOptions<'_>,
) -> Result<Pulled> {
    let reference = Reference::parse(reference)?;
    let client = client_for(&reference, &options.registry)?;
    let repository = reference.path().to_string();
    let platform = options.platform.clone().unwrap_or_else(PlatformSpec::host);
    let resolved = resolve(&client, &reference, &platform)?;
    let names = names.unwrap_or_else(|| match (reference.tag(), reference.digest()) {
        (Some(_), _) | (None, None) => vec![reference.to_string()],
        (None, Some(_)) => Vec::new(),
    });
    let lease = store.lease()?;
    let pulled = bring_in(
        store,
        &client,
        &repository,
        &lease,
        &resolved,
        names,
        options,
    );
    let released = store.release(lease);
    let pulled = pulled?;
    released?;
    Ok(pulled)
}

/// One image manifest and its config, fetched and checked.
pub(crate) struct Resolved {
    /// The manifest's bytes, as served.
    pub manifest: Vec<u8>,
    /// Their digest.
    pub manifest_digest: Digest,
    /// The media type of the manifest (the registry's word, else its own).
    pub media_type: String,
    /// Its layer descriptors, base first.
    pub layers: Vec<Descriptor>,
    /// The config's bytes, checked against the manifest.
    pub config: Vec<u8>,
    /// The config's diff ids.
    pub diff_ids: Vec<Digest>,
}

/// The image manifest `reference` names in `client`'s registry (the one
/// for `platform` when it names an index) and its config, checked.
pub(crate) fn resolve(
    client: &Client,
    reference: &Reference,
    platform: &PlatformSpec,
) -> Result<Resolved> {
    let repository = reference.path();
    let first = match (reference.digest(), reference.tag()) {
        (Some(digest), _) => digest.to_string(),
        (None, Some(tag)) => tag.to_string(),
        (None, None) => "latest".to_string(),
    };
    let mut fetched = client.manifest(repository, &first)?;
    let mut seen = HashSet::new();
    for _ in 0..MAX_NESTING {
        let what = format!("manifest {}", fetched.digest);
        if !seen.insert(fetched.digest.clone()) {
            return Err(malformed(&what, "the index refers to itself"));
        }
        let kind = kind_of(&what, &fetched.media_type, &fetched.bytes)?;
        if media::is_index(&kind) {
            let index = Index::parse(&what, &fetched.bytes)?;
            let entry = platform.choose(&index.manifests, &what)?;
            let next = client.manifest(repository, entry.digest.as_str())?;
            if next.bytes.len() as u64 != entry.size {
                return Err(malformed(
                    &format!("manifest {}", entry.digest),
                    format!(
                        "it is {} bytes, the index says {}",
                        next.bytes.len(),
                        entry.size
                    ),
                ));
            }
            fetched = next;
            continue;
        }
        return image_of(client, repository, fetched, kind);
    }
    Err(malformed(
        &format!("manifest {}/{}", reference.domain(), reference.path()),
        "indexes nest too deep",
    ))
}

/// The media type of a fetched manifest: the registry's word, else the
/// document's own; schema 1 is refused by name.
pub(crate) fn kind_of(what: &str, content_type: &str, bytes: &[u8]) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "schemaVersion", default)]
        schema_version: u32,
        #[serde(rename = "mediaType", default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let head: Head = serde_json::from_slice(bytes)
        .map_err(|e| malformed(what, format!("it is not JSON: {e}")))?;
    if head.schema_version == 1
        || content_type.starts_with("application/vnd.docker.distribution.manifest.v1+")
    {
        return Err(malformed(
            what,
            "it is a Docker schema 1 manifest, which strata does not pull \
             (deprecated since 2015; push the image again with a current tool)",
        ));
    }
    let kind = [Some(content_type.to_string()), head.media_type]
        .into_iter()
        .flatten()
        .find(|t| media::is_manifest(t) || media::is_index(t));
    match kind {
        Some(kind) => Ok(kind),
        None if head.manifests.is_some() => Ok(media::OCI_INDEX.to_string()),
        None => Ok(media::OCI_MANIFEST.to_string()),
    }
}

fn image_of(
    client: &Client,
    repository: &str,
    fetched: strata_registry::Manifest,
    media_type: String,
) -> Result<Resolved> {
    let manifest_digest = Digest::parse(&fetched.digest).map_err(Error::Invalid)?;
    let what = format!("manifest {manifest_digest}");
    let manifest = Manifest::parse(&what, &fetched.bytes)?;
    let config_what = format!("config {}", manifest.config.digest);
    if manifest.config.size > MAX_JSON {
        return Err(malformed(
            &config_what,
            format!(
                "it is {} bytes, more than the {MAX_JSON} strata reads",
                manifest.config.size
            ),
        ));
    }
    let mut config = Vec::new();
    client
        .blob(
            repository,
            manifest.config.digest.as_str(),
            Some(manifest.config.size),
            0,
        )?
        .read_to_end(&mut config)
        .map_err(registry_error)?;
    crate::transport::plan::verify(&config_what, &config, &manifest.config.digest)?;
    if config.len() as u64 != manifest.config.size {
        return Err(malformed(
            &config_what,
            format!(
                "it is {} bytes, the manifest says {}",
                config.len(),
                manifest.config.size
            ),
        ));
    }
    let diff_ids = ImageConfig::parse(&config_what, &config)?.rootfs.diff_ids;
    check_layer_count(&what, manifest.layers.len(), diff_ids.len())?;
    Ok(Resolved {
        manifest: fetched.bytes,
        manifest_digest,
        media_type,
        layers: manifest.layers,
        config,
        diff_ids,
    })
}

fn bring_in(
    store: &Store,
    client: &Client,
    repository: &str,
    lease: &Lease,
    resolved: &Resolved,
    names: Vec<String>,
    options: &PullOptions<'_>,
) -> Result<Pulled> {
    let chain = chain_ids(&resolved.diff_ids);
    // Layers the store has, from the base up, are held and not fetched.
    let mut have = 0;
    for id in &chain {
        if !store.hold_layer(lease, id.hex())? {
            break;
        }
        have += 1;
    }
    for blob in &resolved.layers[..have] {
        if let Some(progress) = options.progress {
            progress(&TransferEvent::Skipped {
                digest: blob.digest.clone(),
                size: blob.size,
            });
        }
    }
    let missing: Vec<usize> = (have..chain.len()).collect();
    let extracted_ahead = fetch_and_import(
        store, client, repository, lease, resolved, &chain, &missing, options,
    )?;
    // The layer blobs the store keeps, fetched now or by an earlier pull.
    let blobs = resolved
        .layers
        .iter()
        .filter(|blob| store.stored_blob_size(&blob.digest) == Some(blob.size))
        .map(|blob| blob.digest.clone())
        .collect();
    let image = store.commit_image(
        lease,
        &NewImage {
            config: resolved.config.clone(),
            manifests: vec![resolved.manifest.clone()],
            names,
            blobs,
        },
    )?;
    store.remember_blob_sources(&sources_of(client, repository, resolved))?;
    Ok(Pulled {
        image,
        manifest_digest: resolved.manifest_digest.clone(),
        fetched: missing.len(),
        reused: have,
        extracted_ahead,
    })
}

/// Where each layer of `resolved` is in the registry, for later pushes.
fn sources_of(client: &Client, repository: &str, resolved: &Resolved) -> Vec<BlobSource> {
    resolved
        .layers
        .iter()
        .zip(&resolved.diff_ids)
        .map(|(blob, diff_id)| BlobSource {
            diff_id: diff_id.clone(),
            digest: blob.digest.clone(),
            size: blob.size,
            media_type: blob.media_type.clone(),
            host: client.host().to_string(),
            repository: repository.to_string(),
        })
        .collect()
}

/// Downloads the `missing` layers, `max_parallel` at a time in order,
/// while importing them behind the downloads: base first, or, where the
/// driver allows, several at once (returns how many were extracted ahead
/// of the layer below them).
#[allow(clippy::too_many_arguments)]
fn fetch_and_import(
    store: &Store,
    client: &Client,
    repository: &str,
    lease: &Lease,
    resolved: &Resolved,
    chain: &[Digest],
    missing: &[usize],
    options: &PullOptions<'_>,
) -> Result<usize> {
    if missing.is_empty() {
        return Ok(0);
    }
    let cancel = AtomicBool::new(false);
    let growing: Vec<Arc<Growing>> = missing.iter().map(|_| Arc::default()).collect();
    let next = AtomicUsize::new(0);
    let context = FetchContext {
        store,
        client,
        repository,
        cancel: &cancel,
        progress: options.progress,
    };
    let workers = options
        .registry
        .max_parallel
        .clamp(1, 16)
        .min(missing.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&layer) = missing.get(at) else { break };
                    if cancel.load(Ordering::Relaxed) {
                        growing[at].finish(Err("the pull was cancelled".into()));
                        continue;
                    }
                    fetch(&context, &resolved.layers[layer], &growing[at]);
                }
            });
        }
        let layers = Layers {
            store,
            lease,
            resolved,
            chain,
            missing,
            growing: &growing,
            options,
        };
        let imported = match store.extracts_ahead() && missing.len() > 1 {
            true => layers.import_together(workers),
            false => layers.import_in_order(),
        };
        if imported.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        imported
    })
}

/// The layers a pull imports, each behind its download.
struct Layers<'a, 'o> {
    store: &'a Store,
    lease: &'a Lease,
    resolved: &'a Resolved,
    chain: &'a [Digest],
    /// Indexes of the layers to import, base first, one after another.
    missing: &'a [usize],
    /// Their downloads, in the same order.
    growing: &'a [Arc<Growing>],
    options: &'a PullOptions<'o>,
}

impl Layers<'_, '_> {
    /// Imports the layers base first, one at a time.
    fn import_in_order(&self) -> Result<usize> {
        for at in 0..self.missing.len() {
            self.import(at, None)?;
        }
        Ok(0)
    }

    /// Imports up to `workers` layers at once, each extracted while the
    /// layers below it are still being made and published once they are
    /// (a driver whose layers hold only their own changes; see
    /// [`Store::import_layer_ahead`]). Returns how many were extracted
    /// that way. A failure returned is the lowest layer's: the layers
    /// above it fail for want of it.
    fn import_together(&self, workers: usize) -> Result<usize> {
        let made: Vec<Made> = self.missing.iter().map(|_| Made::default()).collect();
        let failed = AtomicBool::new(false);
        // Layers are taken base first, so the one below a running import
        // was taken too, and sets its `Made` whatever happens to it.
        let ahead = each_until_failure(self.missing, workers, &failed, |at, _| {
            let outcome = self.import(at, at.checked_sub(1).map(|b| &made[b]));
            made[at].set(outcome.is_ok());
            outcome
        })?;
        Ok(ahead.into_iter().filter(|&went| went).count())
    }

    /// Imports the `at`th missing layer; with `below` (the layer under it,
    /// maybe still being made), ahead of it. Returns whether it was
    /// extracted ahead.
    fn import(&self, at: usize, below: Option<&Made>) -> Result<bool> {
        let layer = self.missing[at];
        let blob = &self.resolved.layers[layer];
        let growing = &self.growing[at];
        let create = CreateOptions {
            id: Some(self.chain[layer].hex().to_string()),
            parent: layer
                .checked_sub(1)
                .map(|p| self.chain[p].hex().to_string()),
            lease: Some(self.lease.id().to_string()),
            expect_diff_digest: Some(self.resolved.diff_ids[layer].clone()),
            ..CreateOptions::default()
        };
        let file = LayerFile {
            path: blob.digest.to_string(),
            digest: Some(blob.digest.clone()),
        };
        let mut open = || Ok(Box::new(growing.reader()) as Box<dyn Read + Send>);
        // A download's reader fails unless the blob hashed right and was
        // whole, so the import need not hash the blob again.
        let vouched = Vouched {
            digest: blob.digest.clone(),
            size: blob.size,
        };
        let store = self.store;
        let went_ahead = Cell::new(false);
        let imported = match below {
            None => import_or_hold_with(store, self.lease, &file, &mut open, &create, &|input| {
                store.import_layer_vouched(&create, input, &vouched)
            }),
            Some(below) => {
                let below_made = || below.wait(&blob.digest);
                import_or_hold_with(store, self.lease, &file, &mut open, &create, &|input| {
                    match store.import_layer_ahead(&create, input, &vouched, &below_made) {
                        Ok(layer) => {
                            went_ahead.set(true);
                            Ok(layer)
                        }
                        Err(Error::NeedsParent(_)) => {
                            below_made()?;
                            store.import_layer_vouched(&create, &mut growing.reader(), &vouched)
                        }
                        Err(other) => Err(other),
                    }
                })
            }
        };
        self.finish(blob, growing, imported)?;
        Ok(went_ahead.get())
    }

    /// After layer blob `blob` was imported (or failed to be): keeps its
    /// download as the blob, or ends it, and reports it done.
    fn finish(&self, blob: &Descriptor, growing: &Growing, imported: Result<bool>) -> Result<()> {
        if let Err(e) = imported {
            if is_content_mismatch(&e) {
                // The blob is whole and hashed right (the download checks
                // it) yet is not what the manifest or config says:
                // resuming it would fail the same way.
                self.store.finish_download(&blob.digest)?;
            }
            return Err(e);
        }
        // The compressed blob stays, as the registry sent it, so the image
        // can be served with its registry's manifest (the download becomes
        // the blob: no copy). A download that did not end whole is not kept.
        let whole = !self.options.discard_blobs && growing.wait_done().is_ok();
        match whole {
            true => self.store.keep_download(&blob.digest, self.lease)?,
            false => self.store.finish_download(&blob.digest)?,
        }
        if let Some(progress) = self.options.progress {
            progress(&TransferEvent::Done {
                digest: blob.digest.clone(),
                size: blob.size,
            });
        }
        Ok(())
    }
}

/// Whether a layer of a pull was made: set once by its import, waited for
/// by the import of the layer above it.
#[derive(Default)]
struct Made {
    outcome: std::sync::Mutex<Option<bool>>,
    changed: std::sync::Condvar,
}

impl Made {
    fn set(&self, made: bool) {
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(made);
        self.changed.notify_all();
    }

    /// Waits for the layer; an error (naming `above`, the blob waiting)
    /// when it was not made.
    fn wait(&self, above: &Digest) -> Result<()> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match *outcome {
                Some(true) => return Ok(()),
                Some(false) => {
                    return Err(Error::Invalid(format!(
                        "the layer below {above} was not made"
                    )));
                }
                None => {
                    outcome = self
                        .changed
                        .wait(outcome)
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }
}

/// Whether an import failed on content that is not what was promised.
fn is_content_mismatch(error: &Error) -> bool {
    match error {
        Error::ContentMismatch { .. } => true,
        Error::Layer { source, .. } => matches!(**source, Error::ContentMismatch { .. }),
        _ => false,
    }
}
