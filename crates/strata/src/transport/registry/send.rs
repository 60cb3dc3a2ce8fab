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

use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest as _, Sha256};
use strata_registry::{Client, Pushed};

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
            "cannot push to {reference}: the manifest's digest is {manifest_digest}"
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
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        let workers = max_parallel.clamp(1, 16).min(all.len());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while !self.cancel.load(Ordering::Relaxed) {
                        let Some((digest, size)) = all.get(next.fetch_add(1, Ordering::SeqCst))
                        else {
                            break;
                        };
                        if let Err(e) = self.send_one(digest, *size) {
                            self.cancel.store(true, Ordering::Relaxed);
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
            Err(_) => Err(Error::Invalid("an upload thread panicked".into())),
        }
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
                let (tx, rx) = sync_channel(4);
                let wrong = &wrong;
                scope.spawn(move || self.produce(digest, size, tx, wrong));
                Ok(Box::new(ChannelReader {
                    rx,
                    piece: Vec::new(),
                    at: 0,
                }))
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

    /// Reads blob `digest` into `tx`, hashing it; a blob that is not its
    /// digest and size ends with an error instead of its last piece's
    /// end, and is recorded in `wrong`.
    fn produce(
        &self,
        digest: &Digest,
        size: u64,
        tx: SyncSender<io::Result<Vec<u8>>>,
        wrong: &Mutex<Option<Error>>,
    ) {
        let mut reader = match self.blobs.open(digest) {
            Ok(reader) => reader,
            Err(e) => {
                let _ = tx.send(Err(io::Error::other(e.to_string())));
                return;
            }
        };
        let mut hasher = Sha256::new();
        let mut done = 0u64;
        loop {
            let mut piece = vec![0u8; PIECE];
            let n = match reader.read(&mut piece) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            piece.truncate(n);
            hasher.update(&piece);
            done += n as u64;
            if done > size {
                break;
            }
            if tx.send(Ok(piece)).is_err() {
                return;
            }
            self.emit(TransferEvent::Progress {
                digest: digest.clone(),
                done,
                size,
            });
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if done != size || actual != digest.as_str() {
            if let Ok(mut slot) = wrong.lock() {
                slot.get_or_insert(Error::ContentMismatch {
                    what: format!("blob {digest}"),
                    expected: format!("{digest} ({size} bytes)"),
                    actual: format!("{actual} ({done} bytes)"),
                });
            }
            let _ = tx.send(Err(io::Error::other(format!(
                "blob {digest} is not its digest"
            ))));
        }
    }
}

/// The reading end of a producer thread's pieces.
struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    piece: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.piece.len() {
            match self.rx.recv() {
                Ok(Ok(piece)) => {
                    self.piece = piece;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.piece.len() - self.at);
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
