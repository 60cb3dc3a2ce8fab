//! The blob store: content-addressed bytes under `blobs/sha256/<hex>` —
//! configs and manifests, and the layer blobs images keep (a pull's
//! downloads, a push's uploads) — written durably before any row names
//! them. Configs and manifests are checked against their digest whenever
//! they are read; layer blobs are streamed, and their readers check them.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{Lease, Store};
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
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

    /// Makes `file` (at `path`, whose bytes hashed to `digest`) the store's
    /// blob `digest`, held by `hold` first so a collection running
    /// meanwhile keeps it: made durable and renamed into place. Returns
    /// `false`, leaving the file where it is, when the store has that blob
    /// already.
    pub(crate) fn adopt_blob(
        &self,
        path: &Path,
        file: &File,
        digest: &Digest,
        hold: &Lease,
    ) -> Result<bool> {
        self.hold_blobs(hold, std::slice::from_ref(digest))?;
        if self.stored_blob_size(digest).is_some() {
            return Ok(false);
        }
        file.sync_all()
            .context(|| format!("cannot flush {}", path.display()))?;
        durable::create_dir_all(&self.blob_dir())?;
        durable::rename_durable(path, &self.blob_path(digest))?;
        Ok(true)
    }

    /// Holds blob `digest` under `hold` if the store has it; returns its
    /// size, `None` when it is not stored (a cross-repository mount of a
    /// blob the store lacks).
    pub fn hold_stored_blob(&self, digest: &Digest, hold: &Lease) -> Result<Option<u64>> {
        self.hold_blobs(hold, std::slice::from_ref(digest))?;
        Ok(self.stored_blob_size(digest))
    }

    /// The size of blob `digest` when the store keeps it.
    pub fn stored_blob_size(&self, digest: &Digest) -> Option<u64> {
        std::fs::metadata(self.blob_path(digest))
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|meta| meta.len())
    }

    /// Opens blob `digest` to read it whole or in part (a layer blob a
    /// served manifest names); `None` when the store does not keep it. The
    /// caller checks the bytes if it needs them checked; the store wrote
    /// them only after they hashed to their name.
    pub fn open_stored_blob(&self, digest: &Digest) -> Result<Option<(File, u64)>> {
        let path = self.blob_path(digest);
        match File::open(&path) {
            Ok(file) => {
                let size = file
                    .metadata()
                    .context(|| format!("cannot stat {}", path.display()))?
                    .len();
                Ok(Some((file, size)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io {
                context: format!("cannot open blob {digest}"),
                source: e,
            }),
        }
    }

    /// The store's root, under which blobs are `blobs/sha256/<hex>`.
    pub(crate) fn root_dir(&self) -> &Path {
        &self.root
    }
}
