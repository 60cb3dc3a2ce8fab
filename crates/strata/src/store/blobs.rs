//! The blob store: content-addressed bytes (configs, manifests) under
//! `blobs/sha256/<hex>`, written durably before any row names them and
//! checked against their digest whenever they are read.

use std::path::PathBuf;

use super::Store;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::fs::durable;

impl Store {
    /// Where blobs are.
    pub(crate) fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    /// Where blob `digest` is.
    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blob_dir().join(digest.hex())
    }

    /// Stores `bytes` (if not stored already) and returns their digest. A
    /// blob no image or lease names is garbage: the next collection takes
    /// it (an operation in progress holds its blobs under its lease first).
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        let path = self.blob_path(&digest);
        if path.exists() {
            return Ok(digest);
        }
        durable::write_file(&path, bytes)?;
        Ok(digest)
    }

    /// The bytes of blob `digest`, checked against it.
    pub fn blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).map_err(|e| Error::Io {
            context: format!("cannot read blob {digest}"),
            source: e,
        })?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(Error::ContentMismatch {
                what: format!("blob {}", path.display()),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Whether blob `digest` is stored.
    pub(crate) fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).exists()
    }

    /// Removes blob `digest` if it is stored.
    pub(crate) fn remove_blob(&self, digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                context: format!("cannot remove {}", path.display()),
                source: e,
            }),
            _ => Ok(()),
        }
    }
}
