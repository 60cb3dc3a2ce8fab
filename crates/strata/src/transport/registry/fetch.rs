//! Downloading one layer blob into its partial-download file: resuming
//! from what the file already holds (hashed again first), appending what
//! the registry sends, telling the reader behind it, and checking the
//! digest at the end. A blob that does not hash right, or that the
//! registry sends longer than its descriptor says, is discarded so that
//! no later pull resumes it.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest as _, Sha256};
use strata_registry::Client;

use super::TransferEvent;
use super::growing::Growing;
use crate::error::{Error, IoContext, Result};
use crate::image::descriptor::Descriptor;
use crate::store::{Download, Store};

/// Size of the pieces read from the network and appended.
const PIECE: usize = 256 << 10;

/// What one fetch needs besides its blob.
pub(crate) struct FetchContext<'a> {
    pub store: &'a Store,
    pub client: &'a Client,
    pub repository: &'a str,
    pub cancel: &'a AtomicBool,
    pub progress: Option<&'a (dyn Fn(&TransferEvent) + Sync)>,
}

/// Downloads `blob` into its partial file, feeding `growing`; on any
/// failure `growing` ends with the error.
pub(crate) fn fetch(context: &FetchContext<'_>, blob: &Descriptor, growing: &Growing) {
    let outcome = fetch_inner(context, blob, growing);
    growing.finish(outcome.as_ref().map(|_| ()).map_err(|e| e.to_string()));
}

fn fetch_inner(context: &FetchContext<'_>, blob: &Descriptor, growing: &Growing) -> Result<()> {
    let mut download = context.store.start_download(&blob.digest)?;
    let outcome = transfer(context, blob, growing, &mut download);
    if let Err(e) = &outcome {
        // Bytes proven wrong are not kept for a later pull to resume, nor
        // an empty file. The reader behind the download keeps its handle.
        // Should the removal fail, the next pull hashes the file again:
        // the error that matters is the download's.
        let empty = download.file.metadata().map(|m| m.len() == 0);
        if proves_wrong(e) || empty.unwrap_or(false) {
            let _ = context.store.finish_download(&blob.digest);
        }
    }
    outcome
}

/// Whether a failed download proved the registry's bytes wrong: not
/// what the digest names, or not the size the descriptor gives.
fn proves_wrong(error: &Error) -> bool {
    use strata_registry::Error as Registry;
    match error {
        Error::ContentMismatch { .. } => true,
        Error::Registry(e) => matches!(
            e,
            Registry::DigestMismatch { .. } | Registry::Protocol { .. }
        ),
        _ => false,
    }
}

fn transfer(
    context: &FetchContext<'_>,
    blob: &Descriptor,
    growing: &Growing,
    download: &mut Download,
) -> Result<()> {
    if download.have > blob.size {
        download.restart()?;
    }
    let mut hasher = Sha256::new();
    hash_existing(&download.file, download.have, &mut hasher)?;
    let file = Arc::new(
        download
            .file
            .try_clone()
            .context(|| "cannot share the download file".to_string())?,
    );
    growing.start(Arc::clone(&file), download.have);
    emit(
        context,
        TransferEvent::Started {
            digest: blob.digest.clone(),
            size: blob.size,
            resumed_at: download.have,
        },
    );
    let mut done = download.have;
    if done < blob.size {
        let mut reader = context.client.blob(
            context.repository,
            blob.digest.as_str(),
            Some(blob.size),
            done,
        )?;
        download
            .file
            .seek(SeekFrom::Start(done))
            .context(|| "cannot seek in the download file".to_string())?;
        let mut piece = vec![0u8; PIECE];
        loop {
            if context.cancel.load(Ordering::Relaxed) {
                return Err(Error::Invalid("the pull was cancelled".into()));
            }
            let n = match reader.read(&mut piece) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(registry_error(e)),
            };
            download
                .file
                .write_all(&piece[..n])
                .context(|| format!("cannot write the download of {}", blob.digest))?;
            hasher.update(&piece[..n]);
            done += n as u64;
            growing.advance(n as u64);
            emit(
                context,
                TransferEvent::Progress {
                    digest: blob.digest.clone(),
                    done,
                    size: blob.size,
                },
            );
        }
    }
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if done != blob.size || actual != blob.digest.as_str() {
        return Err(Error::ContentMismatch {
            what: format!("layer blob {}", blob.digest),
            expected: format!("{} ({} bytes)", blob.digest, blob.size),
            actual: format!("{actual} ({done} bytes)"),
        });
    }
    Ok(())
}

/// Hashes the first `have` bytes of `file` into `hasher`.
fn hash_existing(file: &std::fs::File, have: u64, hasher: &mut Sha256) -> Result<()> {
    let mut buf = vec![0u8; PIECE];
    let mut at = 0u64;
    while at < have {
        let want = buf
            .len()
            .min(usize::try_from(have - at).unwrap_or(usize::MAX));
        let n = file
            .read_at(&mut buf[..want], at)
            .context(|| "cannot read the partial download".to_string())?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

/// The registry error inside an I/O error from a blob reader.
pub(crate) fn registry_error(error: std::io::Error) -> Error {
    match error.downcast::<strata_registry::Error>() {
        Ok(registry) => Error::Registry(registry),
        Err(other) => Error::Io {
            context: "cannot read from the registry".into(),
            source: other,
        },
    }
}

fn emit(context: &FetchContext<'_>, event: TransferEvent) {
    if let Some(progress) = context.progress {
        progress(&event);
    }
}
