//! Bringing images into the store from a source (archive or layout), all
//! or nothing: every layer is imported under one lease, checked against
//! its config's diff id (and its blob digest where the source names one),
//! and the images are recorded only once all their layers are in. Layers
//! already in the store (same ChainID) are not read again. On any failure
//! the lease is released, which deletes the layers this load made; if the
//! process dies instead, the next one to open the store does that.
//!
//! Bookkeeping is linear in the archive: entries that share a config are
//! one image, recorded once with all their names (each name going to the
//! last entry that claims it, as if the entries were recorded in order),
//! and each layer is held once however many entries use it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::archive_in::{ArchiveIn, Input};
use super::docker_archive;
use super::plan::{LayerFile, Plan};
use super::progress::{CountingReader, emit};
use super::registry::{TransferEvent, TransferProgress};
use super::source::Source;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::chain_ids;
use crate::store::{CreateOptions, Image, Layer, Lease, NewImage, Store};

/// What a load did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    /// The images loaded.
    pub images: Vec<Image>,
    /// Layers imported.
    pub imported: usize,
    /// Layers that were in the store already.
    pub reused: usize,
}

/// How a load goes: [`Store::load_with`](crate::Store::load_with).
#[derive(Clone, Copy, Default)]
pub struct LoadOptions<'a> {
    /// Told of each layer blob as it is read: `Started`, `Progress` (bytes
    /// of the blob as stored in the source, compressed or not), `Done`;
    /// `Skipped` for a layer the store has already.
    pub progress: Option<TransferProgress<'a>>,
}

impl std::fmt::Debug for LoadOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Where an archive comes from.
pub enum ArchiveInput {
    /// A file: read in place when it is a regular uncompressed tar.
    File(File),
    /// A stream (standard input, a pipe).
    Stream(Box<dyn Read + Send>),
}

/// Loads every image of a docker-archive or oci-archive.
pub(crate) fn load_archive(
    store: &Store,
    input: ArchiveInput,
    options: &LoadOptions<'_>,
) -> Result<LoadReport> {
    load_archive_selected(store, input, None, None, options)
}

/// Loads the images of an archive that `reference` selects (all when
/// absent), named `names` instead of the archive's names when given.
pub(crate) fn load_archive_selected(
    store: &Store,
    input: ArchiveInput,
    reference: Option<&str>,
    names: Option<&[String]>,
    options: &LoadOptions<'_>,
) -> Result<LoadReport> {
    let lease = store.lease()?;
    let loaded = (|| {
        let input = match input {
            ArchiveInput::File(file) => Input::File(file),
            ArchiveInput::Stream(stream) => Input::Stream(stream),
        };
        let archive = ArchiveIn::open_told(input, lease.dir(), options.progress)?;
        let plans = docker_archive::plans(&archive, reference)?;
        import_plans(store, &lease, &archive, plans, names, &[], options)
    })();
    finish(store, lease, loaded)
}

/// Loads the images of an OCI layout directory.
pub(crate) fn load_layout(
    store: &Store,
    dir: &std::path::Path,
    reference: Option<&str>,
    names: Option<&[String]>,
    options: &LoadOptions<'_>,
) -> Result<LoadReport> {
    let lease = store.lease()?;
    let loaded = (|| {
        let source = super::source::DirSource::new(dir)?;
        let plans = super::oci_layout::plans(&source, reference)?;
        import_plans(store, &lease, &source, plans, names, &[], options)
    })();
    finish(store, lease, loaded)
}

/// Releases the lease; on failure that deletes what the load made.
pub(crate) fn finish(
    store: &Store,
    lease: Lease,
    loaded: Result<LoadReport>,
) -> Result<LoadReport> {
    let released = store.release(lease);
    let report = loaded?;
    released?;
    Ok(report)
}

/// Imports `plans` from `source` under `lease`; each image keeps the
/// stored blobs `keep` (see [`NewImage::blobs`]).
pub(crate) fn import_plans(
    store: &Store,
    lease: &Lease,
    source: &dyn Source,
    plans: Vec<Plan>,
    names: Option<&[String]>,
    keep: &[Digest],
    options: &LoadOptions<'_>,
) -> Result<LoadReport> {
    if plans.is_empty() {
        return Err(Error::Malformed {
            what: "the archive".into(),
            reason: "it holds no image".into(),
        });
    }
    let images = by_config(plans, names);
    let mut report = LoadReport::default();
    let mut held = HashSet::new();
    for image in &images {
        let mut layers = Layers {
            store,
            lease,
            source,
            held: &mut held,
            report: &mut report,
            progress: options.progress,
        };
        layers.import(&image.plan)?;
    }
    for image in images {
        let image = store.commit_image(
            lease,
            &NewImage {
                config: image.plan.config,
                manifests: image.manifests,
                names: image.names,
                blobs: keep.to_vec(),
            },
        )?;
        report.images.push(image);
    }
    Ok(report)
}

/// The entries of an archive that share one config, as one image.
struct SameConfig {
    /// The first entry with this config (its layers are the ones read).
    plan: Plan,
    /// The manifests of all its entries, each once.
    manifests: Vec<Vec<u8>>,
    /// The names it ends up with.
    names: Vec<String>,
}

/// Groups plans by config, in the order configs first appear. A name goes
/// to the image of the last entry that has it; `names`, when given,
/// replace the archive's.
fn by_config(plans: Vec<Plan>, names: Option<&[String]>) -> Vec<SameConfig> {
    let mut owner: HashMap<String, usize> = HashMap::new();
    let mut index: HashMap<Digest, usize> = HashMap::new();
    let mut images: Vec<SameConfig> = Vec::new();
    let mut claims: Vec<Vec<String>> = Vec::new();
    for mut plan in plans {
        let at = *index
            .entry(Digest::of(&plan.config))
            .or_insert(images.len());
        let claimed = match names {
            Some(names) => names.to_vec(),
            None => std::mem::take(&mut plan.names),
        };
        let manifest = plan.manifest.take();
        if at == images.len() {
            images.push(SameConfig {
                plan,
                manifests: Vec::new(),
                names: Vec::new(),
            });
            claims.push(Vec::new());
        }
        if let Some(manifest) = manifest
            && !images[at].manifests.contains(&manifest)
        {
            images[at].manifests.push(manifest);
        }
        for name in claimed {
            owner.insert(name.clone(), at);
            claims[at].push(name);
        }
    }
    for (at, claimed) in claims.into_iter().enumerate() {
        for name in claimed {
            if owner.get(&name) == Some(&at) {
                owner.remove(&name);
                images[at].names.push(name);
            }
        }
    }
    images
}

/// What importing an image's layers needs, across the images of a load.
struct Layers<'a, 'p> {
    store: &'a Store,
    lease: &'a Lease,
    source: &'a dyn Source,
    /// The layers held (or made) so far.
    held: &'a mut HashSet<String>,
    report: &'a mut LoadReport,
    progress: Option<TransferProgress<'p>>,
}

impl Layers<'_, '_> {
    /// Imports the plan's layers that the store does not have, base first.
    fn import(&mut self, plan: &Plan) -> Result<()> {
        let chain = chain_ids(&plan.diff_ids);
        let mut parent: Option<String> = None;
        for ((id, diff_id), file) in chain.iter().zip(&plan.diff_ids).zip(&plan.layers) {
            let id = id.hex().to_string();
            if self.held.contains(&id) {
                // Held (or made) for an earlier image of this load.
                self.report.reused += 1;
                parent = Some(id);
                continue;
            }
            let options = CreateOptions {
                id: Some(id.clone()),
                parent: parent.clone(),
                lease: Some(self.lease.id().to_string()),
                expect_diff_digest: Some(diff_id.clone()),
                ..CreateOptions::default()
            };
            // The blob as the source names it: by its own digest where it
            // has one, else (a docker archive's `<diff id>.tar`) by diff id.
            let digest = file.digest.clone().unwrap_or_else(|| diff_id.clone());
            let size = match self.progress {
                Some(_) => self.source.size(&file.path)?,
                None => 0,
            };
            let (source, progress) = (self.source, self.progress);
            let mut open = || -> Result<Box<dyn Read + Send + '_>> {
                let reader = source.open(&file.path)?;
                Ok(match progress {
                    Some(progress) => Box::new(CountingReader::start(
                        reader,
                        progress,
                        digest.clone(),
                        size,
                    )),
                    None => reader,
                })
            };
            let imported = import_or_hold(self.store, self.lease, file, &mut open, &options)?;
            let event = match imported {
                true => {
                    self.report.imported += 1;
                    TransferEvent::Done { digest, size }
                }
                false => {
                    self.report.reused += 1;
                    TransferEvent::Skipped { digest, size }
                }
            };
            emit(self.progress, event);
            self.held.insert(id.clone());
            parent = Some(id);
        }
        Ok(())
    }
}

/// How long a load waits for another process making the same layer.
const WAIT_FOR_OTHER: Duration = Duration::from_secs(600);

/// Holds the layer `options.id` if the store has it, else imports it from
/// what `open` gives (the bytes of `file`); returns whether it imported.
/// When another process is making the same layer at that moment, waits for
/// it to finish (or give up, and then imports it after all).
pub(crate) fn import_or_hold<'a>(
    store: &Store,
    lease: &Lease,
    file: &LayerFile,
    open: &mut dyn FnMut() -> Result<Box<dyn Read + Send + 'a>>,
    options: &CreateOptions,
) -> Result<bool> {
    import_or_hold_with(store, lease, file, open, options, &|reader| {
        store.import_layer(options, reader, None)
    })
}

/// [`import_or_hold`], making the layer with `import`.
pub(crate) fn import_or_hold_with<'a>(
    store: &Store,
    lease: &Lease,
    file: &LayerFile,
    open: &mut dyn FnMut() -> Result<Box<dyn Read + Send + 'a>>,
    options: &CreateOptions,
    import: &dyn Fn(&mut (dyn Read + Send)) -> Result<Layer>,
) -> Result<bool> {
    let id = options.id.clone().unwrap_or_default();
    let start = Instant::now();
    loop {
        if store.hold_layer(lease, &id)? {
            check_parent(&store.layer(&id)?, options.parent.as_deref())?;
            return Ok(false);
        }
        let mut reader = open()?;
        match import(&mut reader) {
            Ok(layer) => {
                check_blob_digest(file, &layer)?;
                return Ok(true);
            }
            Err(Error::LayerExists(_)) if start.elapsed() < WAIT_FOR_OTHER => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e @ Error::LayerExists(_)) => return Err(e),
            Err(e) => {
                return Err(Error::Layer {
                    file: file.path.clone(),
                    source: Box::new(e),
                });
            }
        }
    }
}

/// A layer found in the store under a ChainID must sit on the layer below
/// it in the image (ids are not trusted blindly: a layer made by hand may
/// have been given that id).
fn check_parent(layer: &Layer, parent: Option<&str>) -> Result<()> {
    if layer.parent.as_deref() == parent {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "layer {} in the store sits on {}, but the image needs it on {}",
        layer.id,
        layer.parent.as_deref().unwrap_or("nothing"),
        parent.unwrap_or("nothing")
    )))
}

/// Checks an imported layer's bytes (as stored in the source) against the
/// digest the source names them by.
fn check_blob_digest(file: &LayerFile, layer: &Layer) -> Result<()> {
    match &file.digest {
        Some(expected) if layer.compressed_digest.as_ref() != Some(expected) => {
            Err(Error::ContentMismatch {
                what: format!("layer file {}", file.path),
                expected: expected.to_string(),
                actual: layer
                    .compressed_digest
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            })
        }
        _ => Ok(()),
    }
}
