//! Image indexes (multi-platform images) the store keeps, as they were
//! pushed into a `strata serve`: the index's exact bytes are a blob; the
//! name it was pushed under goes to one of its images (this host's
//! platform's, else its first), as `podman pull` names the image it
//! picks; and the index holds each of its images for as long as that name
//! stays on that image.
//!
//! While it does, a registry serving the store hands out the index under
//! the name (so its digest is kept), each image by its manifest's digest,
//! and the index's images are not dangling: `image prune` leaves them and
//! `rmi` refuses them without force. The index is forgotten when its name
//! is given to an image again (a tag, a pull, a load, a push), taken away,
//! or removed with its image, and when one of its images is removed by
//! force; its images are then ordinary unnamed images.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{Connection, params};

use super::{Image, Store, images};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// An image index the store keeps under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIndex {
    /// The name it was pushed under, normalized.
    pub name: String,
    /// Its digest; its bytes are the blob of that digest.
    pub digest: Digest,
    /// The image the name is on.
    pub image: String,
    /// The ids of the images it holds (its entries' images).
    pub images: Vec<String>,
}

impl Store {
    /// The image indexes the store keeps, by name.
    pub fn image_indexes(&self) -> Result<Vec<ImageIndex>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT x.name, x.digest, x.image_id FROM image_indexes x \
             JOIN image_names n ON n.name = x.name AND n.image_id = x.image_id \
             ORDER BY x.name",
        )?;
        let rows: Vec<(String, String, String)> = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        drop(stmt);
        let mut held: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut stmt = conn.prepare_cached(
            "SELECT digest, image_id FROM index_images ORDER BY digest, image_id",
        )?;
        for pair in stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))? {
            let (digest, image): (String, String) = pair?;
            held.entry(digest).or_default().push(image);
        }
        rows.into_iter()
            .map(|(name, digest, image)| {
                let images = held.get(&digest).cloned().unwrap_or_default();
                let digest = Digest::parse(&digest).map_err(|e| Error::Damaged {
                    id: name.clone(),
                    reason: format!("the image index recorded for it has digest {digest}: {e}"),
                })?;
                Ok(ImageIndex {
                    name,
                    digest,
                    image,
                    images,
                })
            })
            .collect()
    }

    /// Gives image `named` the name `name` and records index `digest`
    /// (whose bytes are `bytes`) under it, holding the images `held`, in
    /// one transaction; returns the named image.
    pub(crate) fn keep_index(
        &self,
        bytes: &[u8],
        digest: &Digest,
        name: &str,
        named: &str,
        held: &[String],
    ) -> Result<Image> {
        self.write(|conn| {
            // An image removed meanwhile cannot be held.
            for id in held {
                if images::get(conn, id)?.is_none() {
                    return Err(Error::ImageNotFound(id.clone()));
                }
            }
            if !self.has_blob(digest) {
                self.put_blob(bytes)?;
            }
            images::add_names(conn, named, &[name.to_string()])?;
            record(conn, name, digest, named, held)?;
            images::get(conn, named)?.ok_or_else(|| Error::ImageNotFound(named.to_string()))
        })
    }

    /// The names of the indexes that hold image `id` under a name of
    /// another image (those named on `id` itself go with it).
    pub(crate) fn indexes_holding(&self, id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT x.name FROM image_indexes x JOIN index_images h ON h.digest = x.digest \
             WHERE h.image_id = ?1 AND x.image_id != ?1 ORDER BY x.name",
        )?;
        let names = stmt
            .query_map([id], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(names)
    }

    /// The ids of the images the store's indexes hold.
    pub(crate) fn index_held_images(&self) -> Result<HashSet<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT h.image_id FROM index_images h \
             JOIN image_indexes x ON x.digest = h.digest",
        )?;
        let ids = stmt
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }
}

impl Store {
    /// fsck's check of the image indexes: each one's bytes are there and
    /// hash to its digest. A bad one is forgotten by `repair`, its bytes
    /// removed (its images stay, its name stays on its image).
    pub(crate) fn check_image_indexes(
        &self,
        repair: bool,
        issues: &mut Vec<super::FsckIssue>,
    ) -> Result<()> {
        for index in self.image_indexes()? {
            let problem = match self.blob(&index.digest) {
                Ok(bytes) if Digest::of(&bytes) == index.digest => continue,
                Ok(bytes) => format!("its bytes hash to {}", Digest::of(&bytes)),
                Err(error) => format!("its bytes cannot be read: {error}"),
            };
            let repaired = repair && self.forget_damaged_index(&index).is_ok();
            issues.push(super::FsckIssue {
                kind: "damaged-image-index".into(),
                id: index.name.clone(),
                detail: format!("image index {}: {problem}", index.digest),
                repaired,
            });
        }
        Ok(())
    }

    /// Forgets `index` (its name stays on its image) and removes its
    /// bytes when nothing else names them, so the same index pushed again
    /// is written afresh.
    fn forget_damaged_index(&self, index: &ImageIndex) -> Result<()> {
        self.write(|conn| {
            forget_name(conn, &index.name)?;
            if !super::gc::blob_named(conn, &index.digest)? {
                self.remove_blob(&index.digest)?;
            }
            Ok(())
        })
    }
}

/// Records index `digest` under `name`, which is on image `image`, holding
/// `images` (in the transaction that gave the name).
fn record(
    conn: &Connection,
    name: &str,
    digest: &Digest,
    image: &str,
    images: &[String],
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO image_indexes (name, digest, image_id) VALUES (?1, ?2, ?3) \
         ON CONFLICT(name) DO UPDATE SET digest = excluded.digest, image_id = excluded.image_id",
    )?
    .execute(params![name, digest.as_str(), image])?;
    for held in images {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO index_images (digest, image_id) VALUES (?1, ?2)",
        )?
        .execute(params![digest.as_str(), held])?;
    }
    drop_unheld(conn)
}

/// Forgets the indexes recorded under `name` (given again or taken away).
pub(crate) fn forget_name(conn: &Connection, name: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM image_indexes WHERE name = ?1")?
        .execute([name])?;
    drop_unheld(conn)
}

/// Forgets the indexes whose name is on image `id` or that hold it (the
/// image is going).
pub(crate) fn forget_image(conn: &Connection, id: &str) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM image_indexes WHERE image_id = ?1 \
         OR digest IN (SELECT digest FROM index_images WHERE image_id = ?1)",
    )?
    .execute([id])?;
    drop_unheld(conn)
}

/// Removes the holds of indexes no name keeps.
fn drop_unheld(conn: &Connection) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM index_images WHERE digest NOT IN (SELECT digest FROM image_indexes)",
    )?
    .execute([])?;
    Ok(())
}
