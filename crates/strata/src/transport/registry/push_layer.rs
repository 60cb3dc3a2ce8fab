//! Sending one layer of a push. The layer goes out as a blob the
//! registry already has when one is known (so nothing is compressed or
//! uploaded, and digests stay as they were): first any known blob of the
//! layer that the destination repository has (a `HEAD`), then a mount
//! from another repository of the same registry where it was seen; then
//! a known blob the store keeps as a file (a pulled or pushed image's
//! compressed layer), uploaded as it is; only then is the layer's tar
//! rebuilt from the store, compressed on the fly and uploaded, its digest
//! learnt while it streams.
//!
//! Known blobs are the one the image's kept manifest names for the layer
//! and those the store remembers seeing on this registry (see
//! `store::blob_sources`). A known blob is reused whatever its
//! compression, as podman does unless told to force one; only blobs the
//! manifest format can name are considered.

use std::io::{self, Read, Write};

use strata_registry::Client;

use super::produced::spawn_producer;
use super::push_manifest::{Format, SentLayer, layer_compression, layer_media_type};
use super::{TransferEvent, TransferProgress};
use crate::compression::{Compression, Encoder, ParallelGzip};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::Descriptor;
use crate::store::{BlobSource, Store};
use crate::transport::save::{LayerBlob, LayerTars};

/// The gzip level of uploaded layers: zlib's default, as podman's.
const GZIP_LEVEL: u32 = 6;

/// Progress is told at most once per this many bytes.
const PROGRESS_STEP: u64 = 1 << 20;

/// How a layer reached the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// The repository had the blob.
    Existing,
    /// The registry mounted it from another repository.
    Mounted,
    /// It was compressed and uploaded.
    Uploaded,
}

/// What sending a layer needs besides the layer.
pub(super) struct LayerPush<'a> {
    pub store: &'a Store,
    pub client: &'a Client,
    pub repository: &'a str,
    pub format: Format,
    pub compression: Compression,
    pub progress: Option<TransferProgress<'a>>,
}

/// A blob known to hold a layer.
#[derive(Debug, Clone)]
struct Known {
    digest: Digest,
    size: u64,
    compression: Compression,
    /// A repository of this registry it was seen in.
    seen_in: Option<String>,
}

impl LayerPush<'_> {
    /// Sends `layer`, which the image's kept manifest names as `named`.
    pub(super) fn send(
        &self,
        layer: &LayerBlob,
        named: Option<&Descriptor>,
    ) -> Result<(SentLayer, Route)> {
        let known = self.known_blobs(layer, named)?;
        let (sent, route) = match self.reuse(&known)? {
            Some(found) => found,
            None => match self.kept(&known) {
                Some(kept) => (self.upload_kept(kept)?, Route::Uploaded),
                None => (self.upload(layer)?, Route::Uploaded),
            },
        };
        if route != Route::Uploaded {
            self.emit(TransferEvent::Skipped {
                digest: sent.digest.clone(),
                size: sent.size,
            });
        }
        self.remember(layer, &sent)?;
        Ok((sent, route))
    }

    fn known_blobs(&self, layer: &LayerBlob, named: Option<&Descriptor>) -> Result<Vec<Known>> {
        let mut known = Vec::new();
        if let Some(named) = named
            && let Some(compression) = layer_compression(self.format, &named.media_type)
        {
            known.push(Known {
                digest: named.digest.clone(),
                size: named.size,
                compression,
                seen_in: None,
            });
        }
        for source in self
            .store
            .blob_sources(&layer.diff_id, self.client.host())?
        {
            if let Some(compression) = layer_compression(self.format, &source.media_type) {
                known.push(Known {
                    digest: source.digest,
                    size: source.size,
                    compression,
                    seen_in: Some(source.repository),
                });
            }
        }
        Ok(known)
    }

    /// A known blob the repository has or can mount.
    fn reuse(&self, known: &[Known]) -> Result<Option<(SentLayer, Route)>> {
        let sent = |blob: &Known| SentLayer {
            digest: blob.digest.clone(),
            size: blob.size,
            compression: blob.compression,
        };
        let mut asked = Vec::new();
        for blob in known {
            if asked.contains(&blob.digest) {
                continue;
            }
            asked.push(blob.digest.clone());
            if self
                .client
                .blob_size(self.repository, blob.digest.as_str())?
                .is_some()
            {
                return Ok(Some((sent(blob), Route::Existing)));
            }
        }
        for blob in known {
            let Some(from) = blob.seen_in.as_deref() else {
                continue;
            };
            if from == self.repository {
                continue;
            }
            match self
                .client
                .mount_blob(self.repository, blob.digest.as_str(), from)
            {
                Ok(true) => return Ok(Some((sent(blob), Route::Mounted))),
                Ok(false) => {}
                // Refusing a mount (no pull right on the other repository,
                // say) leaves uploading.
                Err(strata_registry::Error::Status { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// A known blob the store keeps as a file, whole.
    fn kept<'k>(&self, known: &'k [Known]) -> Option<&'k Known> {
        known
            .iter()
            .find(|blob| self.store.stored_blob_size(&blob.digest) == Some(blob.size))
    }

    /// Uploads the kept blob `blob` as it is: no rebuilding, no
    /// compressing, and the digest it had (the upload names it, and the
    /// registry checks it).
    fn upload_kept(&self, blob: &Known) -> Result<SentLayer> {
        self.emit(TransferEvent::Started {
            digest: blob.digest.clone(),
            size: blob.size,
            resumed_at: 0,
        });
        let known = strata_registry::Pushed {
            digest: blob.digest.to_string(),
            size: blob.size,
        };
        let mut open = || -> io::Result<Box<dyn Read + Send>> {
            match self.store.open_stored_blob(&blob.digest) {
                Ok(Some((file, _))) => Ok(Box::new(file)),
                Ok(None) => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("blob {} went from the store", blob.digest),
                )),
                Err(e) => Err(io::Error::other(e.to_string())),
            }
        };
        self.client
            .upload_blob(self.repository, Some(&known), &mut open)?;
        self.emit(TransferEvent::Done {
            digest: blob.digest.clone(),
            size: blob.size,
        });
        Ok(SentLayer {
            digest: blob.digest.clone(),
            size: blob.size,
            compression: blob.compression,
        })
    }

    /// Rebuilds the layer's tar, compresses it and uploads it.
    fn upload(&self, layer: &LayerBlob) -> Result<SentLayer> {
        self.emit(TransferEvent::Started {
            digest: layer.diff_id.clone(),
            size: layer.size,
            resumed_at: 0,
        });
        let compression = self.compression;
        let pushed = std::thread::scope(|scope| {
            let mut open = || -> io::Result<Box<dyn Read + Send>> {
                let reader = spawn_producer(scope, move |out| {
                    self.compress_layer(layer, compression, out)
                });
                Ok(Box::new(reader))
            };
            self.client.upload_blob(self.repository, None, &mut open)
        })?;
        let digest = Digest::parse(&pushed.digest).map_err(Error::Invalid)?;
        self.emit(TransferEvent::Done {
            digest: layer.diff_id.clone(),
            size: layer.size,
        });
        Ok(SentLayer {
            digest,
            size: pushed.size,
            compression,
        })
    }

    fn compress_layer(
        &self,
        layer: &LayerBlob,
        compression: Compression,
        out: &mut dyn Write,
    ) -> Result<()> {
        let io_error = |source| Error::Io {
            context: format!("cannot compress layer {}", layer.diff_id),
            source,
        };
        // gzip, the slow one, runs on every core (same bytes whatever
        // their number); zstd is fast enough on one.
        match compression {
            Compression::Gzip => {
                let mut encoder = ParallelGzip::new(out, GZIP_LEVEL);
                self.write_counted(layer, &mut encoder)?;
                encoder.finish().map_err(io_error)?;
            }
            other => {
                let mut encoder = Encoder::new(other, out).map_err(io_error)?;
                self.write_counted(layer, &mut encoder)?;
                encoder.finish().map_err(io_error)?;
            }
        }
        Ok(())
    }

    /// Writes the layer's tar into `inner`, telling progress.
    fn write_counted(&self, layer: &LayerBlob, inner: &mut dyn Write) -> Result<()> {
        let mut counted = Counted {
            inner,
            done: 0,
            told: 0,
            layer,
            progress: self.progress,
        };
        self.store.write_layer(layer, &mut counted)
    }

    fn remember(&self, layer: &LayerBlob, sent: &SentLayer) -> Result<()> {
        let media_type = layer_media_type(self.format, sent.compression)
            .unwrap_or_default()
            .to_string();
        self.store.remember_blob_sources(&[BlobSource {
            diff_id: layer.diff_id.clone(),
            digest: sent.digest.clone(),
            size: sent.size,
            media_type,
            host: self.client.host().to_string(),
            repository: self.repository.to_string(),
        }])
    }

    fn emit(&self, event: TransferEvent) {
        if let Some(progress) = self.progress {
            progress(&event);
        }
    }
}

/// Counts the tar bytes going into the compressor, for progress.
struct Counted<'a, 'b> {
    inner: &'a mut dyn Write,
    done: u64,
    told: u64,
    layer: &'b LayerBlob,
    progress: Option<TransferProgress<'b>>,
}

impl Write for Counted<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.done += n as u64;
        if self.done - self.told < PROGRESS_STEP && self.done < self.layer.size {
            return Ok(n);
        }
        self.told = self.done;
        if let Some(progress) = self.progress {
            progress(&TransferEvent::Progress {
                digest: self.layer.diff_id.clone(),
                done: self.done,
                size: self.layer.size,
            });
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
