//! Garbage collection: mark and sweep from the roots.
//!
//! Roots are images (their layers, config and manifest blobs), containers
//! (their read-write layer and base), named layers, live leases (the layers
//! and blobs they hold), layers mounted (by count or by the kernel) and
//! layers not `ready` (being made or deleted by someone); a layer is kept
//! with its whole parent chain. Everything else is garbage: ready layers no
//! root reaches, blobs no image or lease names, driver and tar-split
//! directories without a row, temporary files of writers that died, and
//! work directories of dead processes (recovery's part).
//!
//! Concurrency: the roots are read in one snapshot; each layer is then
//! deleted through the ordinary deletion path, which checks again, inside
//! the write transaction that marks it `deleting`, that nothing uses it;
//! each blob and orphan directory is removed inside a write transaction
//! that checks again that no row names it. What is listed from disk is
//! listed before the snapshot, so anything created after the listing is
//! not seen at all. An expired lease is released first, even if its owner
//! is alive: that is what expiry means.
//!
//! Crash safety: layers go through `deleting` and the trash, so a process
//! killed during a collection leaves rows that the next opener (or
//! collection) finishes; blobs and orphans are single renames or unlinks.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::leases::now_unix;
use super::{Store, mountinfo, mounts};
use crate::digest::Digest;
use crate::error::{IoContext, Result};
use crate::fs::workdir::WorkDir;
use crate::fs::{entries, is_temp_name};

/// A temporary file of the durable writer younger than this may belong to
/// a live writer; older ones are left by writers that died. Writes of
/// store files take milliseconds.
pub(crate) const TEMP_GRACE: Duration = Duration::from_secs(600);

/// How to collect.
#[derive(Debug, Clone, Default)]
pub struct GcOptions {
    /// Report what would be removed, remove nothing.
    pub dry_run: bool,
}

/// What a collection removed (or, dry, would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Whether nothing was removed.
    pub dry_run: bool,
    /// Expired leases released.
    pub leases: Vec<String>,
    /// Partial downloads removed: untouched for a day and not in use
    /// (see [`DOWNLOAD_EXPIRY`](super::DOWNLOAD_EXPIRY)).
    pub downloads: Vec<String>,
    /// Layers deleted, children before parents.
    pub layers: Vec<String>,
    /// Blobs removed (`sha256:<hex>`).
    pub blobs: Vec<String>,
    /// Directories and files removed, relative to the store root: driver
    /// and tar-split directories without a row, work directories of dead
    /// processes, temporary files of dead writers.
    pub dirs: Vec<String>,
    /// Bytes of disk space given back (allocated blocks).
    pub bytes_freed: u64,
}

/// One piece of garbage.
#[derive(Debug, Clone)]
pub(crate) enum Garbage {
    /// A ready layer no root reaches.
    Layer(String),
    /// A blob no image or lease names.
    Blob(Digest),
    /// Driver data without a row.
    Data(String),
    /// A tar-split directory without a row.
    TarSplit(String),
    /// A temporary file of the durable writer older than [`TEMP_GRACE`],
    /// relative to the root.
    Temp(String),
}

impl Garbage {
    /// The fsck issue kind for it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Garbage::Layer(_) => "unreferenced-layer",
            Garbage::Blob(_) => "orphan-blob",
            Garbage::Data(_) => "orphan-data",
            Garbage::TarSplit(_) => "orphan-tar-split",
            Garbage::Temp(_) => "stray-temp-file",
        }
    }

    /// What it is, for a report.
    pub(crate) fn detail(&self) -> &'static str {
        match self {
            Garbage::Layer(_) => "no image, container, name or lease keeps this layer",
            Garbage::Blob(_) => "no image or lease names this blob",
            Garbage::Data(_) => "driver data without a layer",
            Garbage::TarSplit(_) => "tar-split without a layer",
            Garbage::Temp(_) => "temporary file of a writer that died",
        }
    }

    /// The layer id, digest or path concerned.
    pub(crate) fn id(&self) -> String {
        match self {
            Garbage::Layer(id) | Garbage::Data(id) | Garbage::TarSplit(id) | Garbage::Temp(id) => {
                id.clone()
            }
            Garbage::Blob(digest) => digest.to_string(),
        }
    }
}

/// The rows a survey reads in one snapshot.
#[derive(Default)]
struct Snapshot {
    /// Every layer row: id → (parent, ready).
    layers: HashMap<String, (Option<String>, bool)>,
    /// Layers that are roots by a record.
    roots: Vec<String>,
    /// Blobs named by images or live leases.
    blobs: HashSet<String>,
}

impl Store {
    /// Collects garbage (see the module documentation of `store::gc`).
    pub fn gc(&self, options: &GcOptions) -> Result<GcReport> {
        let mut report = GcReport {
            dry_run: options.dry_run,
            ..GcReport::default()
        };
        if !options.dry_run {
            let recovered = self.recover_all()?;
            report.layers.extend(recovered.layers);
            report.layers.extend(recovered.lease_layers);
            report.dirs.extend(recovered.work_dirs);
            report.leases = self.release_expired()?;
            report.downloads = self.expire_downloads(super::DOWNLOAD_EXPIRY)?;
        }
        for garbage in self.survey()? {
            let freed = match options.dry_run {
                true => Some(self.usage(&garbage)),
                false => self.sweep(&garbage)?,
            };
            let Some(bytes) = freed else { continue };
            report.bytes_freed += bytes;
            match garbage {
                Garbage::Layer(id) => report.layers.push(id),
                Garbage::Blob(digest) => report.blobs.push(digest.to_string()),
                Garbage::Data(id) => report.dirs.push(self.relative(&self.driver.data_dir(&id))),
                Garbage::TarSplit(id) => report.dirs.push(self.relative(&self.meta_dir(&id))),
                Garbage::Temp(name) => report.dirs.push(name),
            }
        }
        if !options.dry_run {
            self.write(super::blob_sources::forget_orphans)?;
        }
        Ok(report)
    }

    /// Finds the garbage without removing any.
    pub(crate) fn survey(&self) -> Result<Vec<Garbage>> {
        // Disk first, rows after: whatever appears on disk after the
        // listing is not considered, and whatever was listed has its row
        // (if any) in the snapshot, since rows come before data.
        let blob_dir = self.blob_dir();
        let blob_names = entries(&blob_dir)?;
        let driver_ids = self.driver.list()?;
        let meta_ids = entries(&self.root.join("layers"))?;
        let mut temps = old_temps(&blob_dir, "blobs/sha256")?;
        temps.extend(old_temps(&self.root.join("layers"), "layers")?);
        let snapshot = self.snapshot()?;
        let reachable = self.reachable(&snapshot)?;
        let mut layers: Vec<String> = snapshot
            .layers
            .iter()
            .filter(|(id, (_, ready))| *ready && !reachable.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        let depth = depths(&snapshot.layers);
        layers.sort_by(|a, b| depth[b].cmp(&depth[a]).then_with(|| a.cmp(b)));
        let mut garbage: Vec<Garbage> = layers.into_iter().map(Garbage::Layer).collect();
        garbage.extend(
            blob_names
                .iter()
                .filter(|name| super::records::is_id(name))
                .filter(|hex| !snapshot.blobs.contains(*hex))
                .filter_map(|hex| Digest::parse(&format!("sha256:{hex}")).ok())
                .map(Garbage::Blob),
        );
        let unknown = |ids: Vec<String>| -> Vec<String> {
            let mut ids: Vec<String> = ids
                .into_iter()
                .filter(|id| super::records::is_id(id) && !snapshot.layers.contains_key(id))
                .collect();
            ids.sort();
            ids
        };
        garbage.extend(unknown(driver_ids).into_iter().map(Garbage::Data));
        garbage.extend(unknown(meta_ids).into_iter().map(Garbage::TarSplit));
        garbage.extend(temps.into_iter().map(Garbage::Temp));
        Ok(garbage)
    }

    /// Reads every layer, every root and every named blob in one snapshot.
    fn snapshot(&self) -> Result<Snapshot> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut snapshot = Snapshot::default();
        let mut stmt = tx.prepare_cached("SELECT id, parent, state FROM layers")?;
        for row in stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get(1)?,
                row.get::<_, String>(2)?,
            ))
        })? {
            let (id, parent, state) = row?;
            if state != "ready" {
                snapshot.roots.push(id.clone());
            }
            snapshot.layers.insert(id, (parent, state == "ready"));
        }
        drop(stmt);
        let now = now_unix();
        let queries: [(&str, &[&dyn rusqlite::ToSql]); 5] = [
            ("SELECT layer_id FROM layer_names", &[]),
            ("SELECT layer_id FROM containers", &[]),
            (
                "SELECT base_layer FROM containers WHERE base_layer IS NOT NULL",
                &[],
            ),
            (
                "SELECT l.layer_id FROM lease_layers l JOIN leases s ON s.id = l.lease_id \
                 WHERE s.expires IS NULL OR s.expires > ?1",
                &[&now],
            ),
            (
                "SELECT j.value FROM images, json_each(images.layers) j",
                &[],
            ),
        ];
        for (sql, args) in queries {
            snapshot.roots.extend(strings(&tx, sql, args)?);
        }
        let boot = mounts::boot_id();
        snapshot.roots.extend(strings(
            &tx,
            "SELECT layer_id FROM mounts WHERE count > 0 AND boot_id = ?1",
            &[&boot],
        )?);
        let named = [
            ("SELECT id FROM images", &[] as &[&dyn rusqlite::ToSql]),
            (
                "SELECT substr(j.value, 8) FROM images, json_each(images.manifests) j",
                &[],
            ),
            (
                "SELECT substr(b.digest, 8) FROM image_blobs b JOIN images i ON i.id = b.image_id",
                &[],
            ),
            (
                "SELECT substr(b.digest, 8) FROM lease_blobs b JOIN leases s ON s.id = b.lease_id \
                 WHERE s.expires IS NULL OR s.expires > ?1",
                &[&now],
            ),
            ("SELECT substr(digest, 8) FROM image_indexes", &[]),
        ];
        for (sql, args) in named {
            snapshot.blobs.extend(strings(&tx, sql, args)?);
        }
        Ok(snapshot)
    }

    /// The layers the roots reach, the kernel's mounts counted as roots.
    fn reachable(&self, snapshot: &Snapshot) -> Result<HashSet<String>> {
        let mounted = mountinfo::mounts_under(&self.root)?;
        let mut roots = snapshot.roots.clone();
        if !mounted.is_empty() {
            roots.extend(
                snapshot
                    .layers
                    .keys()
                    .filter(|id| {
                        let dir = mountinfo::resolved(&self.driver.data_dir(id));
                        mounted.iter().any(|point| point.starts_with(&dir))
                    })
                    .cloned(),
            );
        }
        let mut reachable = HashSet::new();
        for root in roots {
            let mut next = Some(root);
            while let Some(id) = next.take() {
                if !reachable.insert(id.clone()) {
                    break;
                }
                next = snapshot.layers.get(&id).and_then(|(p, _)| p.clone());
            }
        }
        Ok(reachable)
    }

    /// Removes one piece of garbage, checking again (inside a write
    /// transaction) that nothing uses it; returns the bytes freed, `None`
    /// if it turned out to be in use or gone.
    pub(crate) fn sweep(&self, garbage: &Garbage) -> Result<Option<u64>> {
        match garbage {
            Garbage::Layer(id) => {
                let usage = self.usage(garbage);
                Ok(self.delete_unused_layer(id)?.map(|_| usage))
            }
            Garbage::Blob(digest) => self.write(|conn| {
                if blob_named(conn, digest)? {
                    return Ok(None);
                }
                let bytes = self.usage(garbage);
                self.remove_blob(digest)?;
                Ok(Some(bytes))
            }),
            Garbage::Data(id) => {
                self.remove_orphan(id, garbage, |work| self.driver.retire(id, work))
            }
            Garbage::TarSplit(id) => {
                let dir = self.meta_dir(id);
                // A process deleting the layer moves its tar-split away
                // before it drops the row, so a directory listed while the
                // row was there may be gone by now: nothing left to do.
                self.remove_orphan(id, garbage, |work| {
                    crate::fs::durable::rename_durable_if_present(&dir, &work.join("meta"))
                        .map(drop)
                })
            }
            Garbage::Temp(name) => {
                let path = self.root.join(name);
                let bytes = self.usage(garbage);
                match std::fs::remove_file(&path) {
                    Ok(()) => Ok(Some(bytes)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e).context(|| format!("cannot remove {}", path.display())),
                }
            }
        }
    }

    /// Moves the data of `id` (which has no row, checked again inside the
    /// write transaction) into a trash work directory with `retire`, then
    /// removes it; returns the bytes freed, `None` if a row appeared.
    fn remove_orphan(
        &self,
        id: &str,
        garbage: &Garbage,
        retire: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Option<u64>> {
        let work = WorkDir::create(&self.trash_dir())?;
        let bytes = self.usage(garbage);
        let moved = self.write(|conn| {
            if super::records::state(conn, id)?.is_some() {
                return Ok(false);
            }
            retire(work.path())?;
            Ok(true)
        });
        work.remove()?;
        Ok(moved?.then_some(bytes))
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Disk space one piece of garbage takes.
    fn usage(&self, garbage: &Garbage) -> u64 {
        match garbage {
            Garbage::Layer(id) => {
                disk_usage(&self.driver.data_dir(id)) + disk_usage(&self.meta_dir(id))
            }
            Garbage::Blob(digest) => disk_usage(&self.blob_path(digest)),
            Garbage::Data(id) => disk_usage(&self.driver.data_dir(id)),
            Garbage::TarSplit(id) => disk_usage(&self.meta_dir(id)),
            Garbage::Temp(name) => disk_usage(&self.root.join(name)),
        }
    }
}
/// Whether an image (config or manifest) or any lease names blob `digest`.
pub(crate) fn blob_named(conn: &Connection, digest: &Digest) -> Result<bool> {
    let queries = [
        "SELECT 1 FROM images WHERE id = substr(?1, 8)",
        "SELECT 1 FROM images, json_each(images.manifests) j WHERE j.value = ?1 LIMIT 1",
        "SELECT 1 FROM lease_blobs WHERE digest = ?1 LIMIT 1",
        "SELECT 1 FROM image_blobs b JOIN images i ON i.id = b.image_id \
         WHERE b.digest = ?1 LIMIT 1",
        "SELECT 1 FROM image_indexes WHERE digest = ?1 LIMIT 1",
    ];
    for sql in queries {
        let found: Option<i64> = conn
            .prepare_cached(sql)?
            .query_row(params![digest.as_str()], |row| row.get(0))
            .optional()?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The first column of every row of `sql`, as strings.
fn strings(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let values = stmt
        .query_map(args, |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(values)
}

/// How far each layer is from its base (a base is 0).
fn depths(layers: &HashMap<String, (Option<String>, bool)>) -> HashMap<String, usize> {
    let mut depth: HashMap<String, usize> = HashMap::new();
    for id in layers.keys() {
        let mut chain = Vec::new();
        let mut next = Some(id.clone());
        let mut base = 0;
        while let Some(current) = next.take() {
            if let Some(known) = depth.get(&current) {
                base = known + 1;
                break;
            }
            if chain.len() > layers.len() {
                break; // a cycle in damaged rows: stop rather than spin
            }
            next = layers.get(&current).and_then(|(p, _)| p.clone());
            chain.push(current);
        }
        for (i, id) in chain.iter().rev().enumerate() {
            depth.insert(id.clone(), base + i);
        }
    }
    depth
}

/// Temporary files of the durable writer ([`is_temp_name`]) in `dir`
/// older than [`TEMP_GRACE`], named `<label>/<file>`.
fn old_temps(dir: &Path, label: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for name in entries(dir)? {
        if !is_temp_name(&name) {
            continue;
        }
        let old = std::fs::symlink_metadata(dir.join(&name))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > TEMP_GRACE);
        if old {
            found.push(format!("{label}/{name}"));
        }
    }
    found.sort();
    Ok(found)
}

/// Allocated bytes of `path` and everything under it (symlinks not
/// followed, each inode counted once); 0 if it does not exist.
pub(crate) fn disk_usage(path: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut pending = vec![path.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total += meta.blocks() * 512;
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            pending.extend(entries.flatten().map(|e| e.path()));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_count_from_the_base() {
        let layers: HashMap<String, (Option<String>, bool)> = [
            ("a", None),
            ("b", Some("a")),
            ("c", Some("b")),
            ("d", Some("a")),
        ]
        .into_iter()
        .map(|(id, parent)| (id.to_string(), (parent.map(str::to_string), true)))
        .collect();
        let depth = depths(&layers);
        assert_eq!(
            [depth["a"], depth["b"], depth["c"], depth["d"]],
            [0, 1, 2, 1]
        );
    }
}
