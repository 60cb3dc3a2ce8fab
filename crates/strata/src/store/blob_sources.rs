//! Where the compressed forms of layers were seen: for each layer (by
//! diff id), the blobs a registry served or accepted for it, with their
//! digest, size, media type, registry host and repository — what
//! containers/image keeps in its blob-info cache. A push uses them to
//! find a blob the destination has already (a `HEAD`) or can mount from
//! another repository of the same registry, instead of compressing and
//! uploading the layer again; reusing the registry's own blob also keeps
//! the manifest digest of an image pushed back unchanged.
//!
//! The records are hints: a push checks with the registry before relying
//! on one. Garbage collection drops those of layers the store no longer
//! has.

use rusqlite::{Connection, params};

use super::Store;
use super::leases::now_unix;
use crate::digest::Digest;
use crate::error::Result;

/// A compressed blob of a layer, as seen in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlobSource {
    /// The layer's diff id (digest of its uncompressed tar).
    pub diff_id: Digest,
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size.
    pub size: u64,
    /// The blob's media type, as the manifest naming it said.
    pub media_type: String,
    /// The registry host (`registry-1.docker.io`, `localhost:5000`).
    pub host: String,
    /// The repository in it (`library/alpine`).
    pub repository: String,
}

impl Store {
    /// Records where the blobs in `sources` were seen (again).
    pub(crate) fn remember_blob_sources(&self, sources: &[BlobSource]) -> Result<()> {
        if sources.is_empty() {
            return Ok(());
        }
        let seen = now_unix();
        self.write(|conn| {
            let mut insert = conn.prepare_cached(
                "INSERT INTO blob_sources
                   (diff_id, digest, size, media_type, host, repository, seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (diff_id, digest, host, repository)
                 DO UPDATE SET size = ?3, media_type = ?4, seen = ?7",
            )?;
            for source in sources {
                insert.execute(params![
                    source.diff_id.to_string(),
                    source.digest.to_string(),
                    i64::try_from(source.size).unwrap_or(i64::MAX),
                    source.media_type,
                    source.host,
                    source.repository,
                    seen,
                ])?;
            }
            Ok(())
        })
    }

    /// The blobs of layer `diff_id` seen on registry `host`, the most
    /// recently seen first.
    pub(crate) fn blob_sources(&self, diff_id: &Digest, host: &str) -> Result<Vec<BlobSource>> {
        let conn = self.conn();
        let mut query = conn.prepare_cached(
            "SELECT digest, size, media_type, repository FROM blob_sources
             WHERE diff_id = ?1 AND host = ?2 ORDER BY seen DESC, repository",
        )?;
        let rows = query.query_map(params![diff_id.to_string(), host], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        let mut sources = Vec::new();
        for row in rows {
            let (digest, size, media_type, repository) = row?;
            // A row that does not parse is a hint lost, not an error.
            let Ok(digest) = Digest::parse(&digest) else {
                continue;
            };
            sources.push(BlobSource {
                diff_id: diff_id.clone(),
                digest,
                size: u64::try_from(size).unwrap_or(0),
                media_type,
                host: host.to_string(),
                repository,
            });
        }
        Ok(sources)
    }
}

/// Drops the records of layers no layer of the store has; returns how
/// many went.
pub(super) fn forget_orphans(conn: &Connection) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM blob_sources WHERE diff_id NOT IN
           (SELECT diff_digest FROM layers WHERE diff_digest IS NOT NULL)",
        [],
    )?)
}
