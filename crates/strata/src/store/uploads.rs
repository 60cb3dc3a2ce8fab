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
use std::io::{Read, Write};
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

    /// Appends everything `reader` gives; returns how many bytes that was.
    pub fn write_from(&mut self, reader: &mut dyn Read) -> Result<u64> {
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0;
        loop {
            let n = reader
                .read(&mut buf)
                .context(|| "cannot read the blob being uploaded".into())?;
            if n == 0 {
                return Ok(total);
            }
            self.write(&buf[..n])?;
            total += n as u64;
        }
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
        self.hold_blobs(hold, std::slice::from_ref(expected))?;
        let target = self.blob_path(expected);
        if !target.exists() {
            upload
                .file
                .sync_all()
                .context(|| format!("cannot flush {}", upload.path.display()))?;
            durable::create_dir_all(&self.blob_dir())?;
            durable::rename_durable(&upload.path, &target)?;
        }
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
}

/// The layer blobs images keep, for `status`: each blob once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeptBlobs {
    /// How many.
    pub count: usize,
    /// Their bytes.
    pub bytes: u64,
}

impl Store {
    /// The layer blobs images keep (pulled images' compressed blobs, and
    /// those pushed into `strata serve`), each once.
    pub fn kept_blob_totals(&self) -> Result<KeptBlobs> {
        let digests: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT b.digest FROM image_blobs b JOIN images i ON i.id = b.image_id",
            )?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut totals = KeptBlobs::default();
        for digest in digests.iter().filter_map(|d| Digest::parse(d).ok()) {
            if let Some(size) = self.stored_blob_size(&digest) {
                totals.count += 1;
                totals.bytes += size;
            }
        }
        Ok(totals)
    }

    /// The layer blobs image `id` keeps (see [`NewImage::blobs`](super::NewImage::blobs)).
    pub(crate) fn kept_blobs(&self, id: &str) -> Result<Vec<Digest>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT digest FROM image_blobs WHERE image_id = ?1")?;
        let rows = stmt.query_map([id], |row| row.get::<_, String>(0))?;
        let mut kept = Vec::new();
        for row in rows {
            if let Ok(digest) = Digest::parse(&row?) {
                kept.push(digest);
            }
        }
        Ok(kept)
    }

    /// Stops image `id` keeping blob `digest`; removes the blob when
    /// nothing else names it.
    pub(crate) fn forget_kept_blob(&self, id: &str, digest: &Digest) -> Result<()> {
        self.write(|conn| {
            conn.prepare_cached("DELETE FROM image_blobs WHERE image_id = ?1 AND digest = ?2")?
                .execute(rusqlite::params![id, digest.as_str()])?;
            if !super::gc::blob_named(conn, digest)? {
                self.remove_blob(digest)?;
            }
            Ok(())
        })
    }

    /// The store's root, under which blobs are `blobs/sha256/<hex>`.
    pub(crate) fn root_dir(&self) -> &std::path::Path {
        &self.root
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
