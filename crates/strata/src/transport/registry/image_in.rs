//! A registry image as the source of a direct copy (`docker://REF` to an
//! archive or layout): the image manifest for the platform asked for, its
//! config, and its layer blobs downloaded — several at once, each hashed
//! as it arrives and refused unless it is its digest and size — into a
//! scratch directory laid out as `blobs/sha256/<hex>`. The copy then
//! reads that directory as it reads an OCI layout, with the manifest as
//! the registry served it. Nothing enters the store.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use strata_registry::Client;

use super::fetch::registry_error;
use super::pull::resolve;
use super::{PlatformSpec, RegistryOptions, TransferEvent, TransferProgress, client_for};
use crate::digest::DigestWriter;
use crate::error::{Error, IoContext, Result};
use crate::image::descriptor::Descriptor;
use crate::image::reference::Reference;
use crate::transport::plan::{LayerFile, Plan};
use crate::transport::source::DirSource;

/// Size of the pieces read from the network.
const PIECE: usize = 256 << 10;

/// Fetches the image `reference` names into `scratch` (an empty
/// directory); returns its plan, whose layer files are in the returned
/// source, and whose manifest is the registry's.
pub(crate) fn fetch_image(
    reference: &str,
    options: &RegistryOptions,
    platform: Option<&PlatformSpec>,
    progress: Option<TransferProgress<'_>>,
    scratch: &Path,
) -> Result<(Plan, DirSource)> {
    let reference = Reference::parse(reference)?;
    let client = client_for(&reference, options)?;
    let platform = platform.cloned().unwrap_or_else(PlatformSpec::host);
    let resolved = resolve(&client, &reference, &platform)?;
    let blobs_dir = scratch.join("blobs/sha256");
    std::fs::create_dir_all(&blobs_dir)
        .context(|| format!("cannot create {}", blobs_dir.display()))?;
    let mut distinct: Vec<&Descriptor> = Vec::new();
    for layer in &resolved.layers {
        if !distinct.iter().any(|d| d.digest == layer.digest) {
            distinct.push(layer);
        }
    }
    download_all(
        &client,
        reference.path(),
        &distinct,
        &blobs_dir,
        options.max_parallel,
        progress,
    )?;
    let layers = resolved
        .layers
        .iter()
        .map(|d| LayerFile {
            path: format!("blobs/sha256/{}", d.digest.hex()),
            digest: Some(d.digest.clone()),
        })
        .collect();
    let names = match reference.tag() {
        Some(_) => vec![reference.to_string()],
        None => Vec::new(),
    };
    let plan = Plan {
        config: resolved.config,
        diff_ids: resolved.diff_ids,
        manifest: Some(resolved.manifest),
        layers,
        names,
    };
    Ok((plan, DirSource::new(scratch)?))
}

/// Downloads `blobs` into `dir`, `max_parallel` at a time; the first
/// failure stops the others.
fn download_all(
    client: &Client,
    repository: &str,
    blobs: &[&Descriptor],
    dir: &Path,
    max_parallel: usize,
    progress: Option<TransferProgress<'_>>,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let workers = max_parallel.clamp(1, 16).min(blobs.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !cancel.load(Ordering::Relaxed) {
                    let Some(blob) = blobs.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        break;
                    };
                    if let Err(e) = download(client, repository, blob, dir, &cancel, progress) {
                        cancel.store(true, Ordering::Relaxed);
                        if let Ok(mut first) = failure.lock() {
                            first.get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    match failure.into_inner() {
        Ok(Some(e)) => Err(e),
        Ok(None) => Ok(()),
        Err(_) => Err(Error::Invalid("a download thread panicked".into())),
    }
}

/// Downloads one blob to `dir/<hex>`, hashing it as it arrives.
fn download(
    client: &Client,
    repository: &str,
    blob: &Descriptor,
    dir: &Path,
    cancel: &AtomicBool,
    progress: Option<TransferProgress<'_>>,
) -> Result<()> {
    let emit = |event: TransferEvent| {
        if let Some(progress) = progress {
            progress(&event);
        }
    };
    emit(TransferEvent::Started {
        digest: blob.digest.clone(),
        size: blob.size,
        resumed_at: 0,
    });
    let path = dir.join(blob.digest.hex());
    let file = File::create(&path).context(|| format!("cannot create {}", path.display()))?;
    let mut out = DigestWriter::new(BufWriter::new(file));
    let mut reader = client.blob(repository, blob.digest.as_str(), Some(blob.size), 0)?;
    let mut piece = vec![0u8; PIECE];
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Invalid("the copy was cancelled".into()));
        }
        let n = match reader.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(registry_error(e)),
        };
        out.write_all(&piece[..n])
            .context(|| format!("cannot write {}", path.display()))?;
        emit(TransferEvent::Progress {
            digest: blob.digest.clone(),
            done: reader.position(),
            size: blob.size,
        });
    }
    let (actual, size, mut writer) = out.finish();
    writer
        .flush()
        .context(|| format!("cannot write {}", path.display()))?;
    if actual != blob.digest || size != blob.size {
        return Err(Error::ContentMismatch {
            what: format!("layer blob {}", blob.digest),
            expected: format!("{} ({} bytes)", blob.digest, blob.size),
            actual: format!("{actual} ({size} bytes)"),
        });
    }
    emit(TransferEvent::Done {
        digest: blob.digest.clone(),
        size: blob.size,
    });
    Ok(())
}
