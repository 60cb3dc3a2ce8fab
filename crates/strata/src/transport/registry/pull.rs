//! Pulling an image: resolve the reference to one image manifest (through
//! an index for the platform asked for), fetch and check its config, then
//! bring in the layers the store lacks. Several blobs download at once,
//! each into its resumable partial-download file; the layers are imported
//! base first, each reading its blob behind the download as it grows, so
//! extraction starts with the first bytes. All or nothing, as a load: the
//! layers are held by one lease and the image recorded once all are in.

use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;
use strata_registry::Client;

use super::fetch::{FetchContext, fetch, registry_error};
use super::growing::Growing;
use super::{PlatformSpec, RegistryOptions, TransferEvent, TransferProgress, client_for};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::chain_ids;
use crate::image::config::ImageConfig;
use crate::image::descriptor::Descriptor;
use crate::image::manifest::{Index, MAX_JSON, Manifest, malformed};
use crate::image::media;
use crate::image::reference::Reference;
use crate::store::{BlobSource, CreateOptions, Image, Lease, NewImage, Store};
use crate::transport::load::import_or_hold;
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
    fetch_and_import(
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
/// while importing them base first behind the downloads.
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
) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
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
        let imported = (|| {
            for (at, &layer) in missing.iter().enumerate() {
                let parent = layer.checked_sub(1).map(|p| chain[p].hex().to_string());
                import_one(
                    store,
                    lease,
                    resolved,
                    chain,
                    layer,
                    parent,
                    &growing[at],
                    options,
                )?;
            }
            Ok(())
        })();
        if imported.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        imported
    })
}

#[allow(clippy::too_many_arguments)]
fn import_one(
    store: &Store,
    lease: &Lease,
    resolved: &Resolved,
    chain: &[Digest],
    layer: usize,
    parent: Option<String>,
    growing: &Arc<Growing>,
    options: &PullOptions<'_>,
) -> Result<()> {
    let blob = &resolved.layers[layer];
    let create = CreateOptions {
        id: Some(chain[layer].hex().to_string()),
        parent,
        lease: Some(lease.id().to_string()),
        expect_diff_digest: Some(resolved.diff_ids[layer].clone()),
        ..CreateOptions::default()
    };
    let file = LayerFile {
        path: blob.digest.to_string(),
        digest: Some(blob.digest.clone()),
    };
    let mut open = || Ok(Box::new(growing.reader()) as Box<dyn Read + Send>);
    if let Err(e) = import_or_hold(store, lease, &file, &mut open, &create) {
        if is_content_mismatch(&e) {
            // The blob is whole and hashed right (the download checks it)
            // yet is not what the manifest or config says: resuming it
            // would fail the same way.
            store.finish_download(&blob.digest)?;
        }
        return Err(e);
    }
    // The compressed blob stays, as the registry sent it, so the image can
    // be served with its registry's manifest (the download becomes the
    // blob: no copy). A download that did not end whole is not kept.
    let whole = !options.discard_blobs && growing.wait_done().is_ok();
    match whole {
        true => store.keep_download(&blob.digest, lease)?,
        false => store.finish_download(&blob.digest)?,
    }
    if let Some(progress) = options.progress {
        progress(&TransferEvent::Done {
            digest: blob.digest.clone(),
            size: blob.size,
        });
    }
    Ok(())
}

/// Whether an import failed on content that is not what was promised.
fn is_content_mismatch(error: &Error) -> bool {
    match error {
        Error::ContentMismatch { .. } => true,
        Error::Layer { source, .. } => matches!(**source, Error::ContentMismatch { .. }),
        _ => false,
    }
}
