//! The layer blobs an image keeps beside its layers (`image_blobs`): the
//! compressed blobs of a pull, and those of a push into `strata serve`,
//! so the image can be served and pushed on with the manifest it came
//! with. Named by the image like its config: `gc` keeps them while the
//! image exists, and removing the image takes them.

use super::Store;
use crate::digest::Digest;
use crate::error::Result;

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
}
