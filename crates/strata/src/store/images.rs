//! Images: a config blob (its digest is the image id), the ordered layers
//! its `rootfs.diff_ids` name (their ChainIDs are the layer ids, so stacks
//! shared by several images are stored once), the manifests it came with,
//! and names, normalized as docker and podman normalize them.
//!
//! An image row is written in one transaction once its layers and blobs
//! are in place, so there is no half-made image to recover. Removing an
//! image deletes its row and blobs, then the layers nothing else uses.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::image_names::{self, local_name};
use super::indexes;
use super::layer::{LayerState, now_rfc3339};
use super::leases::{self, Lease};
use super::records;
use super::{Store, containers};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::reference;
use crate::image::{ImageConfig, chain_ids};

/// One image.
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// The config's digest, hex (64 digits).
    pub id: String,
    /// Names, normalized (`docker.io/library/alpine:latest`).
    pub names: Vec<String>,
    /// Layer ids (ChainIDs), base first.
    pub layers: Vec<String>,
    /// The top layer, if the image has any.
    pub top_layer: Option<String>,
    /// Digests of the manifests kept for the image.
    pub manifests: Vec<Digest>,
    /// When the image was created, from its config (else when it was added).
    pub created: String,
    /// When it was added to the store.
    pub added: String,
    /// Sum of the layers' uncompressed sizes.
    pub size: u64,
}

impl Image {
    /// The config's digest.
    pub fn digest(&self) -> Digest {
        Digest::parse(&format!("sha256:{}", self.id)).unwrap_or_else(|_| Digest::of(b""))
    }
}

/// What a new image is made of.
#[derive(Debug, Clone, Default)]
pub struct NewImage {
    /// The config, exactly as received.
    pub config: Vec<u8>,
    /// Manifests that name this config, exactly as received.
    pub manifests: Vec<Vec<u8>>,
    /// Names to give it (normalized first; taken from images that have them).
    pub names: Vec<String>,
    /// Layer blobs its manifests name that are in the store's blobs
    /// already (held by `lease`): kept as long as the image is, so it can
    /// be served with those manifests.
    pub blobs: Vec<Digest>,
}

/// What removing an image did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Removed {
    /// The image, if it was removed (not just untagged).
    pub image: Option<String>,
    /// Names taken away.
    pub untagged: Vec<String>,
    /// Containers removed with it (forced removal).
    pub containers: Vec<String>,
    /// Layers deleted because nothing else used them.
    pub layers: Vec<String>,
}

/// Normalizes an image name (`alpine` → `docker.io/library/alpine:latest`).
pub fn normalize_name(name: &str) -> Result<String> {
    Ok(reference::parse(name)?.to_string())
}

impl Store {
    /// Records an image whose layers are in the store and held by `lease`:
    /// stores its config and manifests as blobs, then writes the row and
    /// names in one transaction. An image that exists already gets the new
    /// names and manifests.
    pub fn commit_image(&self, lease: &Lease, new: &NewImage) -> Result<Image> {
        let config = ImageConfig::parse("the image config", &new.config)?;
        let layers: Vec<String> = chain_ids(&config.rootfs.diff_ids)
            .iter()
            .map(|d| d.hex().to_string())
            .collect();
        let names = new
            .names
            .iter()
            .map(|n| normalize_name(n))
            .collect::<Result<Vec<_>>>()?;
        // Held before they are written: a collection running meanwhile
        // must not take blobs no image names yet.
        let config_digest = Digest::of(&new.config);
        let manifests: Vec<Digest> = new.manifests.iter().map(|m| Digest::of(m)).collect();
        let mut held = manifests.clone();
        held.push(config_digest.clone());
        self.hold_blobs(lease, &held)?;
        self.put_blob(&new.config)?;
        for manifest in &new.manifests {
            self.put_blob(manifest)?;
        }
        let id = config_digest.hex().to_string();
        self.write(|conn| {
            leases::check_live(conn, lease)?;
            // A concurrent removal of this image may have taken the blobs.
            if !self.has_blob(&config_digest) {
                self.put_blob(&new.config)?;
            }
            for (digest, bytes) in manifests.iter().zip(&new.manifests) {
                if !self.has_blob(digest) {
                    self.put_blob(bytes)?;
                }
            }
            let size = check_layers(conn, &layers, &config.rootfs.diff_ids)?;
            let existing = get(conn, &id)?;
            let mut all_manifests = existing
                .as_ref()
                .map(|image| image.manifests.clone())
                .unwrap_or_default();
            for digest in &manifests {
                if !all_manifests.contains(digest) {
                    all_manifests.push(digest.clone());
                }
            }
            let created = config.created.clone().unwrap_or_else(now_rfc3339);
            conn.prepare_cached(
                "INSERT INTO images (id, top_layer, layers, manifests, created, added, size, state) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'ready') \
                 ON CONFLICT(id) DO UPDATE SET manifests = excluded.manifests",
            )?
            .execute(params![
                id,
                layers.last(),
                to_json(&layers),
                to_json(&all_manifests),
                created,
                now_rfc3339(),
                size as i64,
            ])?;
            add_names(conn, &id, &names)?;
            for digest in &new.blobs {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?1, ?2)",
                )?
                .execute(params![id, digest.as_str()])?;
            }
            get(conn, &id)?.ok_or_else(|| Error::ImageNotFound(id.clone()))
        })
    }

    /// Looks an image up as podman does: by full id (`sha256:` optional),
    /// by name (a short name as `localhost/NAME`, then as Docker Hub's),
    /// by unique id prefix, then by a name that ends in `/NAME` (see
    /// [`Store::similar_image_names`] for what to offer when nothing is
    /// found).
    pub fn image(&self, reference: &str) -> Result<Image> {
        let conn = self.conn();
        let id = resolve(&conn, reference)?;
        get(&conn, &id)?.ok_or(Error::ImageNotFound(id))
    }

    /// Every image, oldest first.
    pub fn images(&self) -> Result<Vec<Image>> {
        let conn = self.conn();
        let sql = format!("SELECT {COLUMNS} FROM images ORDER BY created, id");
        let mut images: Vec<Image> = conn
            .prepare_cached(&sql)?
            .query_map([], from_row)?
            .collect::<rusqlite::Result<_>>()?;
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        let mut stmt =
            conn.prepare_cached("SELECT image_id, name FROM image_names ORDER BY name")?;
        for pair in stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))? {
            let (id, name): (String, String) = pair?;
            names.entry(id).or_default().push(name);
        }
        for image in &mut images {
            image.names = names.remove(&image.id).unwrap_or_default();
        }
        Ok(images)
    }

    /// Gives image `reference` the name `name` (taken from any image that
    /// had it). A name without a registry is put under `localhost/`, as
    /// `podman tag` does (`sample:2` → `localhost/sample:2`).
    pub fn tag_image(&self, reference: &str, name: &str) -> Result<Image> {
        let name = local_name(name)?;
        self.write(|conn| {
            let id = resolve(conn, reference)?;
            add_names(conn, &id, std::slice::from_ref(&name))?;
            get(conn, &id)?.ok_or(Error::ImageNotFound(id))
        })
    }

    /// Takes the name `name` from image `reference`. The name is
    /// normalized as [`Store::tag_image`] does, as `podman untag` does: a
    /// short name is the image's `localhost/` name, never its Docker Hub
    /// one.
    pub fn untag_image(&self, reference: &str, name: &str) -> Result<Image> {
        let name = local_name(name)?;
        self.write(|conn| {
            let id = resolve(conn, reference)?;
            let removed = conn
                .prepare_cached("DELETE FROM image_names WHERE name = ?1 AND image_id = ?2")?
                .execute(params![name, id])?;
            if removed == 0 {
                return Err(Error::Invalid(format!("image {id} has no name {name}")));
            }
            indexes::forget_name(conn, &name)?;
            get(conn, &id)?.ok_or(Error::ImageNotFound(id))
        })
    }

    /// Removes an image. Named by one of several names, only that name
    /// goes. Otherwise the image goes, then the layers no other image,
    /// container or operation in progress uses. Refused
    /// ([`Error::ImageInUse`], naming the containers) while containers made
    /// from the image or on its top layer exist, unless `force`, which
    /// removes those containers too (as `podman rmi --force` does); and
    /// ([`Error::ImageInIndex`]) while an image index named on another
    /// image holds it, unless `force`, which forgets that index.
    pub fn delete_image(&self, reference: &str, force: bool) -> Result<Removed> {
        let (image, by_name) = {
            let conn = self.conn();
            let found = image_names::lookup(&conn, reference)?;
            let image = get(&conn, &found.id)?.ok_or(Error::ImageNotFound(found.id))?;
            (image, found.name)
        };
        if let Some(name) = by_name.filter(|_| image.names.len() > 1) {
            self.untag_image(&image.id, &name)?;
            return Ok(Removed {
                untagged: vec![name],
                ..Removed::default()
            });
        }
        let mut removed = Removed::default();
        if !force {
            let indexes = self.indexes_holding(&image.id)?;
            if !indexes.is_empty() {
                return Err(Error::ImageInIndex {
                    image: image.id.clone(),
                    indexes,
                });
            }
        }
        if force {
            let users =
                containers::users_of_image(&self.conn(), &image.id, image.top_layer.as_deref())?;
            for container in users {
                self.delete_container(&container, true)?;
                removed.containers.push(container);
            }
        }
        removed.untagged = image.names.clone();
        // Refuses, naming them, while containers use the image.
        self.forget_image(&image.id)?;
        removed.image = Some(image.id.clone());
        if let Some(top) = &image.top_layer {
            removed.layers = self.collect_layers(std::slice::from_ref(top), true)?;
        }
        Ok(removed)
    }

    /// Deletes image `id`'s row, names and blobs, leaving its layers;
    /// refuses ([`Error::ImageInUse`]) if a container made from the image or
    /// on its top layer exists by then (one made after the caller last
    /// looked), in the same transaction that deletes the row.
    ///
    /// The rows go in one transaction and the blobs in a second one, so a
    /// kill between the two leaves blobs that nothing names (garbage the
    /// next gc or `fsck --repair` collects), never an image whose config is
    /// gone. The second transaction looks again: a blob another image or a
    /// lease (a load of the same image) names by then stays.
    pub(crate) fn forget_image(&self, id: &str) -> Result<()> {
        let Some((image, kept)) = self.write(|conn| {
            let image = get(conn, id)?;
            if let Some(image) = &image {
                let users =
                    containers::users_of_image(conn, &image.id, image.top_layer.as_deref())?;
                if !users.is_empty() {
                    return Err(Error::ImageInUse {
                        image: image.id.clone(),
                        containers: users,
                    });
                }
            }
            conn.prepare_cached("DELETE FROM image_names WHERE image_id = ?1")?
                .execute([id])?;
            indexes::forget_image(conn, id)?;
            conn.prepare_cached("DELETE FROM images WHERE id = ?1")?
                .execute([id])?;
            let kept: Vec<Digest> = conn
                .prepare_cached("DELETE FROM image_blobs WHERE image_id = ?1 RETURNING digest")?
                .query_map([id], |row| row.get::<_, String>(0))?
                .filter_map(|digest| digest.ok().and_then(|d| Digest::parse(&d).ok()))
                .collect();
            Ok(image.map(|image| (image, kept)))
        })?
        else {
            return Ok(());
        };
        self.write(|conn| {
            for digest in image.manifests.iter().chain([&image.digest()]).chain(&kept) {
                if !super::gc::blob_named(conn, digest)? {
                    self.remove_blob(digest)?;
                }
            }
            Ok(())
        })
    }
}

/// Checks that `layers` are ready, stacked in order, and have the diff ids
/// the config names;
/// returns the sum of their sizes.
fn check_layers(conn: &Connection, layers: &[String], diff_ids: &[Digest]) -> Result<u64> {
    let mut size = 0;
    let mut below: Option<&String> = None;
    for (id, diff_id) in layers.iter().zip(diff_ids) {
        let layer = records::get(conn, id)?
            .filter(|l| l.state == LayerState::Ready)
            .ok_or_else(|| Error::LayerNotFound(id.clone()))?;
        if layer.parent.as_ref() != below {
            return Err(Error::Invalid(format!(
                "layer {id} does not sit on {}",
                below.map_or("nothing", |b| b.as_str())
            )));
        }
        below = Some(id);
        if layer.diff_digest.as_ref() != Some(diff_id) {
            return Err(Error::ContentMismatch {
                what: format!("layer {id}"),
                expected: diff_id.to_string(),
                actual: layer
                    .diff_digest
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "none".into()),
            });
        }
        size += layer.diff_size.unwrap_or(0);
    }
    Ok(size)
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// Gives image `id` each of `names` (taken from images that had them);
/// an index recorded under a name is forgotten.
pub(crate) fn add_names(conn: &Connection, id: &str, names: &[String]) -> Result<()> {
    for name in names {
        indexes::forget_name(conn, name)?;
        conn.prepare_cached(
            "INSERT INTO image_names (name, image_id) VALUES (?1, ?2) \
             ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
        )?
        .execute(params![name, id])?;
    }
    Ok(())
}

/// Resolves a reference to an image id, in podman's order (see the
/// `image_names` module).
pub(crate) fn resolve(conn: &Connection, reference: &str) -> Result<String> {
    Ok(image_names::lookup(conn, reference)?.id)
}

/// The top layer of image `id` (none for an image without layers, or no
/// such image).
pub(crate) fn top_layer(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT top_layer FROM images WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?
        .flatten())
}

/// The image with top layer `layer`, if any.
pub(crate) fn with_top_layer(conn: &Connection, layer: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT id FROM images WHERE top_layer = ?1 ORDER BY id LIMIT 1")?
        .query_row([layer], |row| row.get(0))
        .optional()?)
}

/// The columns [`from_row`] reads, in order.
const COLUMNS: &str = "id, top_layer, layers, manifests, created, added, size";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Image> {
    let json = |index: usize| -> rusqlite::Result<String> { row.get(index) };
    let bad = |what: &str| {
        rusqlite::Error::InvalidColumnType(0, what.to_string(), rusqlite::types::Type::Text)
    };
    Ok(Image {
        id: row.get(0)?,
        names: Vec::new(),
        top_layer: row.get(1)?,
        layers: serde_json::from_str(&json(2)?).map_err(|_| bad("image layers"))?,
        manifests: serde_json::from_str(&json(3)?).map_err(|_| bad("image manifests"))?,
        created: row.get(4)?,
        added: row.get(5)?,
        size: row.get::<_, i64>(6)?.max(0) as u64,
    })
}

/// Image `id` with its names, if there is one.
pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<Image>> {
    let image = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM images WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?;
    let Some(mut image) = image else {
        return Ok(None);
    };
    image.names = conn
        .prepare_cached("SELECT name FROM image_names WHERE image_id = ?1 ORDER BY name")?
        .query_map([id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(image))
}
