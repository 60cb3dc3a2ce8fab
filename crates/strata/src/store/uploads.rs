//! Blob uploads: the bytes of one blob arriving in pieces (a push into
//! `strata serve`), hashed as they are written, and kept in the store's
//! `blobs/` only once they hash to the digest the client names.
//!
//! An upload lives in the work directory of its own lease, so a process
//! that dies mid-upload leaves nothing the next process to open the store
//! does not remove. A finished blob is held by a lease the caller names
//! (the server holds pushed blobs under one lease until a manifest puts
//! them in an image), recorded before the file is moved in, so a
//! collection running meanwhile leaves it alone.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use super::{Lease, Store};
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::fs::durable;

/// Name of the file in the upload's work directory.
const PARTIAL: &str = "blob";

/// A blob being uploaded. Dropped without [`Store::finish_upload`] or
/// [`Store::cancel_upload`], its bytes are thrown away.
pub struct Upload {
    lease: Option<Lease>,
    file: File,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish()
    }
}

impl Upload {
    /// A random id, unique in the store (its lease's).
    pub fn id(&self) -> &str {
        self.lease.as_ref().map_or("", Lease::id)
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .context(|| format!("cannot write {}", self.path.display()))?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }
}

impl Store {
    /// Starts an upload.
    pub fn start_upload(&self) -> Result<Upload> {
        let lease = self.lease()?;
        let path = lease.dir().join(PARTIAL);
        let file = match durable::create_new(&path) {
            Ok(file) => file,
            Err(e) => {
                self.release(lease)?;
                return Err(e);
            }
        };
        Ok(Upload {
            lease: Some(lease),
            file,
            path,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Ends `upload`: its bytes must be `expected` (else the upload is
    /// thrown away and the error says what they were instead). The blob
    /// goes to the store's blobs, held by `hold`; returns its size.
    pub fn finish_upload(
        &self,
        mut upload: Upload,
        expected: &Digest,
        hold: &Lease,
    ) -> Result<u64> {
        let actual = Digest::from_hasher(std::mem::take(&mut upload.hasher));
        if &actual != expected {
            return Err(Error::ContentMismatch {
                what: "the uploaded blob".into(),
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        // A blob the store has already stays; the upload goes with its lease.
        self.adopt_blob(&upload.path, &upload.file, expected, hold)?;
        let size = upload.size;
        if let Some(lease) = upload.lease.take() {
            self.release(lease)?;
        }
        Ok(size)
    }

    /// Throws `upload` away now (dropping it does the same, quietly).
    pub fn cancel_upload(&self, mut upload: Upload) -> Result<()> {
        match upload.lease.take() {
            Some(lease) => self.release(lease).map(drop),
            None => Ok(()),
        }
    }
}

impl Drop for Upload {
    /// Frees the bytes at once; the lease's row and empty work directory
    /// stay until this process ends (the next process to open the store
    /// removes them). [`Store::cancel_upload`] removes everything now.
    fn drop(&mut self) {
        if self.lease.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
