//! Sending an image that is not in the store to a registry (a direct copy
//! from an archive, a layout or another registry): every blob — config,
//! then layers — is asked for with `HEAD` first and skipped when the
//! registry has it, mounted from the source repository when both are in
//! the same registry, and uploaded otherwise, several at once, with its
//! digest and size known. The bytes are hashed as they stream, and a blob
//! that is not its digest breaks off its upload before the end, so the
//! registry never takes it. The manifest goes last, as the given bytes,
//! once every blob is in: a failed copy leaves no manifest behind (at
//! most blobs nothing names, which the registry collects).

use std::io::{self, Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest as _, Sha256};
use strata_registry::{Client, Pushed};

use super::parallel::each_until_failure;
use super::produced::spawn_producer;
use super::{RegistryOptions, TransferEvent, TransferProgress, client_for};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::reference::Reference;

/// Size of the pieces streamed.
const PIECE: usize = 256 << 10;

/// An image to send.
pub(crate) struct Outgoing {
    /// The manifest's bytes, sent as they are.
    pub manifest: Vec<u8>,
    /// The manifest's media type.
    pub media_type: String,
    /// The blobs it names (digest and size), config first.
    pub blobs: Vec<(Digest, u64)>,
}

/// Where the blobs of an [`Outgoing`] image are read from.
pub(crate) trait Blobs: Sync {
    /// Opens blob `digest` from its start.
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + Send + '_>>;

    /// The registry host and repository the blobs are in, when they are
    /// in one (a registry to registry copy): a registry may mount them.
    fn mountable_from(&self) -> Option<(&str, &str)> {
        None
    }
}

/// Sends `image` to the registry of `reference`, naming the manifest by
/// its tag (or its digest, which must be the manifest's); returns the
/// manifest's digest.
pub(crate) fn send(
    reference: &Reference,
    options: &RegistryOptions,
    image: &Outgoing,
    blobs: &dyn Blobs,
    progress: Option<TransferProgress<'_>>,
) -> Result<Digest> {
    let target = target(reference, &image.manifest)?;
    let client = client_for(reference, options)?;
    let to = Destination {
        client: &client,
        repository: reference.path(),
        max_parallel: options.max_parallel,
    };
    send_to(&to, &target, image, blobs, progress)
}

/// What a manifest sent to `reference` is named by: its tag, or its
/// digest, which must be that of `manifest`.
pub(crate) fn target(reference: &Reference, manifest: &[u8]) -> Result<String> {
    let manifest_digest = Digest::of(manifest);
    match (reference.digest(), reference.tag()) {
        (Some(digest), _) if *digest != manifest_digest => Err(Error::Invalid(format!(
            "cannot push to {reference}: the manifest to push is {manifest_digest}"
        ))),
        (Some(digest), _) => Ok(digest.to_string()),
        (None, Some(tag)) => Ok(tag.to_string()),
        (None, None) => Ok("latest".to_string()),
    }
}

/// A repository of a registry, reached.
pub(crate) struct Destination<'a> {
    /// The registry.
    pub client: &'a Client,
    /// The repository.
    pub repository: &'a str,
    /// Blobs sent at once.
    pub max_parallel: usize,
}

/// Sends `image`'s blobs, then its manifest as `target` (a tag or its
/// digest); returns the manifest's digest.
pub(crate) fn send_to(
    to: &Destination<'_>,
    target: &str,
    image: &Outgoing,
    blobs: &dyn Blobs,
    progress: Option<TransferProgress<'_>>,
) -> Result<Digest> {
    let mut all: Vec<(Digest, u64)> = Vec::new();
    for blob in &image.blobs {
        if !all.iter().any(|(d, _)| *d == blob.0) {
            all.push(blob.clone());
        }
    }
    let sender = Sender {
        client: to.client,
        repository: to.repository,
        blobs,
        progress,
        cancel: AtomicBool::new(false),
    };
    sender.send_all(&all, to.max_parallel)?;
    to.client
        .put_manifest(to.repository, target, &image.media_type, &image.manifest)?;
    Ok(Digest::of(&image.manifest))
}

struct Sender<'a> {
    client: &'a Client,
    repository: &'a str,
    blobs: &'a dyn Blobs,
    progress: Option<TransferProgress<'a>>,
    cancel: AtomicBool,
}

impl Sender<'_> {
    fn emit(&self, event: TransferEvent) {
        if let Some(progress) = self.progress {
            progress(&event);
        }
    }

    /// Sends `all`, `max_parallel` at a time; the first failure stops the
    /// others.
    fn send_all(&self, all: &[(Digest, u64)], max_parallel: usize) -> Result<()> {
        each_until_failure(all, max_parallel, &self.cancel, |_, (digest, size)| {
            self.send_one(digest, *size)
        })
        .map(|_| ())
    }

    fn send_one(&self, digest: &Digest, size: u64) -> Result<()> {
        if self.client.blob_size(self.repository, digest.as_str())? == Some(size) {
            self.emit(TransferEvent::Skipped {
                digest: digest.clone(),
                size,
            });
            return Ok(());
        }
        // A mount the registry refuses (or answers with an error, as one
        // whose token leaves out the source repository does) falls back
        // to an upload, which reports its own errors.
        if let Some((host, from)) = self.blobs.mountable_from()
            && host == self.client.host()
            && from != self.repository
            && self
                .client
                .mount_blob(self.repository, digest.as_str(), from)
                .unwrap_or(false)
        {
            self.emit(TransferEvent::Skipped {
                digest: digest.clone(),
                size,
            });
            return Ok(());
        }
        self.emit(TransferEvent::Started {
            digest: digest.clone(),
            size,
            resumed_at: 0,
        });
        let known = Pushed {
            digest: digest.to_string(),
            size,
        };
        let wrong: Mutex<Option<Error>> = Mutex::new(None);
        let uploaded = std::thread::scope(|scope| {
            let mut open = || -> io::Result<Box<dyn Read + Send>> {
                if self.cancel.load(Ordering::Relaxed) {
                    return Err(io::Error::other("the copy was cancelled"));
                }
                if wrong.lock().map(|w| w.is_some()).unwrap_or(true) {
                    return Err(io::Error::other("the blob is not its digest"));
                }
                let wrong = &wrong;
                Ok(Box::new(spawn_producer(scope, move |out| {
                    self.produce(digest, size, out, wrong)
                })))
            };
            self.client
                .upload_blob(self.repository, Some(&known), &mut open)
        });
        if let Ok(Some(e)) = wrong.into_inner() {
            return Err(e);
        }
        uploaded?;
        self.emit(TransferEvent::Done {
            digest: digest.clone(),
            size,
        });
        Ok(())
    }

    /// Copies blob `digest` into `out`, hashing it; a blob that is not
    /// its digest and size fails instead of ending (so its upload breaks
    /// off before the registry takes it), and is recorded in `wrong`.
    fn produce(
        &self,
        digest: &Digest,
        size: u64,
        out: &mut dyn Write,
        wrong: &Mutex<Option<Error>>,
    ) -> Result<()> {
        let mut reader = self.blobs.open(digest)?;
        let mut hasher = Sha256::new();
        let mut done = 0u64;
        let mut piece = vec![0u8; PIECE];
        loop {
            let n = match reader.read(&mut piece) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(sending(digest, e)),
            };
            hasher.update(&piece[..n]);
            done += n as u64;
            if done > size {
                break;
            }
            out.write_all(&piece[..n]).map_err(|e| sending(digest, e))?;
            self.emit(TransferEvent::Progress {
                digest: digest.clone(),
                done,
                size,
            });
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if done != size || actual != digest.as_str() {
            let mismatch = || Error::ContentMismatch {
                what: format!("blob {digest}"),
                expected: format!("{digest} ({size} bytes)"),
                actual: format!("{actual} ({done} bytes)"),
            };
            if let Ok(mut slot) = wrong.lock() {
                slot.get_or_insert_with(mismatch);
            }
            return Err(mismatch());
        }
        Ok(())
    }
}

/// The error for a blob that could not be read or handed on.
fn sending(digest: &Digest, source: io::Error) -> Error {
    Error::Io {
        context: format!("cannot send blob {digest}"),
        source,
    }
}
