//! Containers: a read-write layer on top of a base layer (an image's top
//! layer, or any layer), plus a record with the container's own id, names,
//! the image it was made from, creation time and the caller's metadata
//! string. A container can be mounted (its read-write layer, writable),
//! unmounted, deleted (with its read-write layer) and committed: its
//! changes become a new read-only layer on the same base.
//!
//! Records live in table `containers` (id, `layer_id` = the read-write
//! layer, `base_layer`, `image_id`, created, metadata, state, `work_dir`)
//! with names in `container_names` (unique among containers; a name in use
//! is an error, never taken from its holder). Lookups accept a full id, a name or a
//! unique id prefix and only see `ready` containers.
//!
//! # Crash safety
//!
//! Making a container is three steps, each durable:
//! 1. one transaction inserts the container row as `creating`, naming the
//!    read-write layer id it is about to make, and reserves its names; the
//!    row is owned by a work directory in `staging/` whose lock the
//!    creating process holds (the same liveness rule layers use);
//! 2. the read-write layer is made as any layer is (its own `creating`
//!    row, staging directory and recovery);
//! 3. one transaction makes the container row `ready`; then the work
//!    directory goes.
//!
//! A process that dies anywhere in between leaves a `creating` container
//! row whose work directory lock is free or missing. Whoever opens the
//! store next finds it (an indexed query of rows that are not `ready`),
//! deletes the read-write layer if it got made, and drops the row, so a
//! half container never becomes visible and its layer never lingers as a
//! stray read-write layer. A failure that the process sees is undone the
//! same way on the spot.
//!
//! Deleting a container is one transaction that drops its row and names
//! and marks its read-write layer `deleting` (owned by a trash directory);
//! from there the layer's own deletion (or, after a crash, layer recovery)
//! finishes the job. A layer that a container uses, as its base or as its
//! read-write layer, cannot be deleted while the container exists.
//!
//! Committing streams the changeset of the read-write layer (generated
//! from the trees, deterministically) through a pipe into an import on
//! another thread, so the new layer records tar-split and its `diff`
//! gives back exactly the bytes the commit produced. Nothing is spooled to
//! disk; the import's own crash safety covers the new layer.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU8, Ordering};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::diff::DiffFormat;
use super::import::CreateOptions;
use super::layer::{Layer, LayerState, now_rfc3339};
use super::{Store, images, mounts, records};
use crate::error::{Error, IoContext, Result};
use crate::fs::random_hex;
use crate::fs::workdir::{Owner, WorkDir};

/// What a new container is.
///
/// It goes on an image ([`ContainerOptions::from_image`]: on the image's
/// top layer, and it records the image), on a layer
/// ([`ContainerOptions::on_layer`]), or on nothing (the default: an empty
/// container). When both `image` and `base` are given, the image is looked
/// up first and `base` is used only if no image matches `image`
/// ([`ContainerOptions::from_image_or_layer`] sets both to one reference,
/// as `strata container create` does).
#[derive(Debug, Clone, Default)]
pub struct ContainerOptions {
    /// The id to give it (64 lowercase hex digits); random when absent.
    pub id: Option<String>,
    /// The image it is made from (name, id with or without `sha256:`, or
    /// unique id prefix): it goes on the image's top layer (on nothing for
    /// an image without layers) and records the image's id.
    pub image: Option<String>,
    /// The layer it goes on top of (id, name or id prefix), when no image
    /// is given or none matches `image`; an empty container when both are
    /// absent.
    pub base: Option<String>,
    /// Names to give it; each must not be in use by another container.
    pub names: Vec<String>,
    /// Free-form data of the caller.
    pub metadata: String,
}

impl ContainerOptions {
    /// A container made from image `reference` (name, id or id prefix).
    pub fn from_image(reference: impl Into<String>) -> Self {
        Self {
            image: Some(reference.into()),
            ..Self::default()
        }
    }

    /// A container on layer `reference` (id, name or id prefix), recording
    /// no image.
    pub fn on_layer(reference: impl Into<String>) -> Self {
        Self {
            base: Some(reference.into()),
            ..Self::default()
        }
    }

    /// A container on the image `reference` names, or when no image
    /// matches it, on the layer it names. Images come first: a reference
    /// that is both an image's name (or id prefix) and a layer's is the
    /// image.
    pub fn from_image_or_layer(reference: impl Into<String>) -> Self {
        let reference = reference.into();
        Self {
            image: Some(reference.clone()),
            base: Some(reference),
            ..Self::default()
        }
    }
}

/// One container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    /// 64 hex digits.
    pub id: String,
    /// Unique names, sorted.
    pub names: Vec<String>,
    /// The container's read-write layer.
    pub layer: String,
    /// The layer the read-write layer is on top of.
    pub base: Option<String>,
    /// The id of the image it was made from (64 hex digits); none for a
    /// container made on a layer, and for containers made before stores
    /// recorded images. The image may be gone since if it was removed by
    /// force.
    pub image: Option<String>,
    /// When it was created (RFC 3339, UTC).
    pub created: String,
    /// Free-form data of the caller.
    pub metadata: String,
}

const COLUMNS: &str = "id, layer_id, base_layer, created, metadata, image_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Container> {
    Ok(Container {
        id: row.get(0)?,
        names: Vec::new(),
        layer: row.get(1)?,
        base: row.get(2)?,
        created: row.get(3)?,
        metadata: row.get(4)?,
        image: row.get(5)?,
    })
}

/// Containers, for [`records::resolve_in`].
const CONTAINERS: records::Lookup = records::Lookup {
    records: "containers",
    names: "container_names",
    owner: "container_id",
    not_found: Error::ContainerNotFound,
};

/// Resolves a full id, a name or a unique id prefix to a ready container's id.
fn resolve(conn: &Connection, reference: &str) -> Result<String> {
    records::resolve_in(conn, &CONTAINERS, reference)
}

/// The container `id` with its names, whatever its state.
fn get(conn: &Connection, id: &str) -> Result<Option<Container>> {
    let sql = format!("SELECT {COLUMNS} FROM containers WHERE id = ?1");
    let container = conn
        .prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?;
    let Some(mut container) = container else {
        return Ok(None);
    };
    container.names = conn
        .prepare_cached("SELECT name FROM container_names WHERE container_id = ?1 ORDER BY name")?
        .query_map([id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(container))
}

/// Every ready container, oldest first, with names.
fn list(conn: &Connection) -> Result<Vec<Container>> {
    let sql =
        format!("SELECT {COLUMNS} FROM containers WHERE state = 'ready' ORDER BY created, id");
    let mut containers: Vec<Container> = conn
        .prepare_cached(&sql)?
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let mut names: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut stmt =
        conn.prepare_cached("SELECT container_id, name FROM container_names ORDER BY name")?;
    for pair in stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })? {
        let (id, name) = pair?;
        names.entry(id).or_default().push(name);
    }
    for container in &mut containers {
        container.names = names.remove(&container.id).unwrap_or_default();
    }
    Ok(containers)
}

/// The container (in any state) that uses layer `id` as its read-write
/// layer or its base, if any.
pub(crate) fn user_of(conn: &Connection, layer: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM containers WHERE layer_id = ?1 OR base_layer = ?1 ORDER BY id LIMIT 1",
        )?
        .query_row([layer], |row| row.get(0))
        .optional()?)
}

/// The containers (in any state) made from image `image` or whose base is
/// layer `top` (the image's top layer).
pub(crate) fn users_of_image(
    conn: &Connection,
    image: &str,
    top: Option<&str>,
) -> Result<Vec<String>> {
    let ids = conn
        .prepare_cached(
            "SELECT id FROM containers WHERE image_id = ?1 OR base_layer = ?2 ORDER BY id",
        )?
        .query_map(params![image, top], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// What a container goes on: the base layer and the image, resolved in
/// the transaction that records it (so neither can go in between).
fn resolve_base(
    conn: &Connection,
    options: &ContainerOptions,
) -> Result<(Option<String>, Option<String>)> {
    if let Some(reference) = &options.image {
        match images::resolve(conn, reference) {
            Ok(id) => {
                let top = images::top_layer(conn, &id)?;
                return Ok((top, Some(id)));
            }
            Err(Error::ImageNotFound(_)) if options.base.is_some() => {}
            Err(e) => return Err(e),
        }
    }
    match &options.base {
        Some(reference) => Ok((Some(records::resolve(conn, reference)?), None)),
        None => Ok((None, None)),
    }
}

/// What a new container row holds.
struct NewContainer<'a> {
    id: &'a str,
    layer: &'a str,
    base: Option<&'a str>,
    image: Option<&'a str>,
    metadata: &'a str,
    names: &'a [String],
    work_dir: &'a str,
}

/// Inserts a `creating` row and reserves its names.
fn insert_creating(conn: &Connection, row: &NewContainer<'_>) -> Result<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO containers \
             (id, layer_id, base_layer, image_id, created, metadata, state, work_dir) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'creating', ?7)",
        )?
        .execute(params![
            row.id,
            row.layer,
            row.base,
            row.image,
            now_rfc3339(),
            row.metadata,
            row.work_dir
        ]);
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            return Err(Error::ContainerExists(row.id.to_string()));
        }
        Err(e) => return Err(e.into()),
    }
    for name in row.names {
        let holder: Option<String> = conn
            .prepare_cached("SELECT container_id FROM container_names WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        if let Some(container) = holder {
            return Err(Error::ContainerNameInUse {
                name: name.clone(),
                container,
            });
        }
        conn.prepare_cached("INSERT INTO container_names (name, container_id) VALUES (?1, ?2)")?
            .execute(params![name, row.id])?;
    }
    Ok(())
}

/// Removes a container row and its names.
fn delete_row(conn: &Connection, id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM container_names WHERE container_id = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM containers WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Rows not ready: (id, read-write layer, owning work directory).
fn unfinished(conn: &Connection) -> Result<Vec<(String, String, Option<String>)>> {
    let rows = conn
        .prepare_cached("SELECT id, layer_id, work_dir FROM containers WHERE state != 'ready'")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The commit's changeset writer: still writing, done, or failed.
const RUNNING: u8 = 0;
const WRITTEN: u8 = 1;
const FAILED: u8 = 2;

/// The read end of the commit pipe. End of file counts as the end of the
/// changeset only if the writer says it finished; otherwise it is an
/// error, so an import never mistakes a cut-off changeset for a whole one.
struct Checked<'a> {
    pipe: io::PipeReader,
    writer: &'a AtomicU8,
}

impl Read for Checked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.pipe.read(buf)?;
        if n == 0 && !buf.is_empty() && self.writer.load(Ordering::Acquire) != WRITTEN {
            return Err(io::Error::other(
                "the container's changes could not be written",
            ));
        }
        Ok(n)
    }
}

/// Whether `error` comes down to a broken pipe (the reading side gave up).
fn is_broken_pipe(error: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::BrokenPipe
        {
            return true;
        }
        cause = e.source();
    }
    false
}

impl Store {
    /// Makes a container: a new read-write layer on the image's top layer
    /// or the layer `options` names (see [`ContainerOptions`]) and a record
    /// naming it and its image. Either both exist afterwards or neither
    /// does (after a crash, once the store is opened again).
    pub fn create_container(&self, options: &ContainerOptions) -> Result<Container> {
        let id = match &options.id {
            Some(id) if records::is_id(id) => id.clone(),
            Some(id) => {
                return Err(Error::Invalid(format!(
                    "invalid container id {id:?}: want 64 lowercase hex digits"
                )));
            }
            None => random_hex(32),
        };
        let mut names = options.names.clone();
        names.sort();
        names.dedup();
        for name in &names {
            records::check_name(name)?;
        }
        let layer_id = random_hex(32);
        let work = WorkDir::create(&self.staging_dir())?;
        let reserved = self.write(|conn| {
            let (base, image) = resolve_base(conn, options)?;
            insert_creating(
                conn,
                &NewContainer {
                    id: &id,
                    layer: &layer_id,
                    base: base.as_deref(),
                    image: image.as_deref(),
                    metadata: &options.metadata,
                    names: &names,
                    work_dir: work.name(),
                },
            )?;
            Ok(base)
        });
        let base = match reserved {
            Ok(base) => base,
            Err(e) => {
                work.remove()?;
                return Err(e);
            }
        };
        let layer = CreateOptions {
            id: Some(layer_id.clone()),
            parent: base,
            read_write: true,
            ..CreateOptions::default()
        };
        let made = self.create_layer(&layer).and_then(|_| {
            self.write(|conn| {
                conn.prepare_cached(
                    "UPDATE containers SET state = 'ready', work_dir = NULL WHERE id = ?1",
                )?
                .execute([&id])?;
                Ok(())
            })
        });
        if let Err(e) = made {
            // The error that caused it is the one worth reporting.
            let _ = self.undo_container(&id, &layer_id);
            let _ = work.remove();
            return Err(e);
        }
        work.remove()?;
        self.container(&id)
    }

    /// Removes an unfinished container `id`: its read-write layer `layer`
    /// if that got made, then its row. Does nothing if the row is gone or
    /// ready (someone else finished it).
    fn undo_container(&self, id: &str, layer: &str) -> Result<()> {
        let work = WorkDir::create(&self.trash_dir())?;
        let marked = self.write(|conn| {
            let state: Option<String> = conn
                .prepare_cached("SELECT state FROM containers WHERE id = ?1")?
                .query_row([id], |row| row.get(0))
                .optional()?;
            if state.as_deref() != Some("creating") {
                return Ok(false);
            }
            delete_row(conn, id)?;
            // A layer that got children in the meantime is left alone, a
            // plain read-write layer from now on.
            let ready = records::state(conn, layer)? == Some(LayerState::Ready);
            if !ready || !records::children(conn, layer)?.is_empty() {
                return Ok(false);
            }
            records::mark_deleting(conn, layer, work.name())?;
            Ok(true)
        });
        match marked {
            Ok(true) => self.discard(layer, Some(work)),
            Ok(false) => work.remove(),
            Err(e) => {
                work.remove()?;
                Err(e)
            }
        }
    }

    /// Undoes containers whose creator died before finishing them. Runs
    /// when the store opens, after layer recovery; returns their ids.
    pub(crate) fn recover_containers(&self) -> Result<Vec<String>> {
        let mut undone = Vec::new();
        let rows = unfinished(&self.conn())?;
        for (id, layer, work_name) in rows {
            let owner = match &work_name {
                Some(name) => WorkDir::adopt(&self.staging_dir(), name)?,
                None => Owner::Dead(None),
            };
            let Owner::Dead(work) = owner else { continue };
            let mine =
                records::still_unfinished(&self.conn(), "containers", &id, work_name.as_deref())?;
            if !mine {
                // Its owner finished meanwhile: the container is ready.
                continue;
            }
            self.undo_container(&id, &layer)?;
            if let Some(work) = work {
                work.remove()?;
            }
            undone.push(id);
        }
        Ok(undone)
    }

    /// Looks a container up by full id, name or unique id prefix.
    pub fn container(&self, reference: &str) -> Result<Container> {
        let conn = self.conn();
        let id = resolve(&conn, reference)?;
        get(&conn, &id)?.ok_or(Error::ContainerNotFound(id))
    }

    /// Every container, oldest first.
    pub fn containers(&self) -> Result<Vec<Container>> {
        list(&self.conn())
    }

    /// Mounts a container's read-write layer (counting mounts); returns
    /// where its writable tree is.
    pub fn mount_container(&self, reference: &str) -> Result<std::path::PathBuf> {
        let container = self.container(reference)?;
        self.mount_layer(&container.layer)
    }

    /// Drops one mount of a container; the last one unmounts it. Returns
    /// the mounts left.
    pub fn unmount_container(&self, reference: &str) -> Result<u64> {
        let container = self.container(reference)?;
        match self.unmount_layer(&container.layer) {
            Err(Error::NotMounted(_)) => Err(Error::ContainerNotMounted(container.id)),
            other => other,
        }
    }

    /// How many times a container is mounted.
    pub fn container_mount_count(&self, reference: &str) -> Result<u64> {
        let container = self.container(reference)?;
        self.mount_count(&container.layer)
    }

    /// Deletes a container and its read-write layer. A mounted container is
    /// refused unless `force`, which unmounts it first; a container whose
    /// layer the kernel still has mounted after that (a mount the store did
    /// not count, or one inside its tree) is refused
    /// ([`Error::KernelMounted`]).
    pub fn delete_container(&self, reference: &str, force: bool) -> Result<()> {
        let work = WorkDir::create(&self.trash_dir())?;
        let marked = self.write(|conn| {
            let id = resolve(conn, reference)?;
            let container = get(conn, &id)?.ok_or_else(|| Error::ContainerNotFound(id.clone()))?;
            let layer = container.layer;
            let children = records::children(conn, &layer)?;
            if !children.is_empty() {
                return Err(Error::HasChildren {
                    id: layer,
                    children,
                });
            }
            let count = mounts::count(conn, &layer)?;
            if count > 0 {
                if !force {
                    return Err(Error::ContainerMounted { id, count });
                }
                self.driver.unmount(&layer)?;
                mounts::forget(conn, &layer)?;
            }
            // A mount the count does not know of (or one made inside the
            // tree) would have its contents removed with the layer.
            self.check_not_kernel_mounted(&layer)?;
            delete_row(conn, &id)?;
            if records::state(conn, &layer)? == Some(LayerState::Ready) {
                records::mark_deleting(conn, &layer, work.name())?;
                return Ok(Some(layer));
            }
            Ok(None)
        });
        match marked {
            Ok(Some(layer)) => self.discard(&layer, Some(work)),
            Ok(None) => work.remove(),
            Err(e) => {
                work.remove()?;
                Err(e)
            }
        }
    }

    /// Turns a container's changes into a new read-only layer on the
    /// container's base, with `names`. The changeset of the read-write
    /// layer is generated on one thread and imported (tar-split recorded)
    /// on another through a pipe, so the new layer's `diff` gives back
    /// exactly these bytes. The container stays as it is.
    pub fn commit_container(&self, reference: &str, names: &[String]) -> Result<Layer> {
        let container = self.container(reference)?;
        let options = CreateOptions {
            parent: container.base.clone(),
            names: names.to_vec(),
            ..CreateOptions::default()
        };
        let (reader, writer) = io::pipe().context(|| "cannot create a pipe".into())?;
        let state = AtomicU8::new(RUNNING);
        std::thread::scope(|scope| {
            let state = &state;
            let rw_layer = container.layer.as_str();
            let producer = scope.spawn(move || {
                let mut writer = writer;
                let written = self.diff(rw_layer, None, DiffFormat::None, &mut writer);
                // Before the write end closes: the reader's end of file
                // must know whether it is the real end.
                let outcome = if written.is_ok() { WRITTEN } else { FAILED };
                state.store(outcome, Ordering::Release);
                drop(writer);
                written
            });
            let mut input = Checked {
                pipe: reader,
                writer: state,
            };
            let imported = self.import_layer(&options, &mut input, None);
            // Unblocks the writer if the import stopped early.
            drop(input);
            let produced = producer.join().unwrap_or_else(|_| {
                Err(Error::Invalid(
                    "the changeset writer thread panicked".into(),
                ))
            });
            match (produced, imported) {
                (Ok(report), Ok(layer)) => {
                    if layer.diff_digest.as_ref() != Some(&report.digest) {
                        let _ = self.delete_layer(&layer.id);
                        return Err(Error::DigestMismatch {
                            id: layer.id,
                            expected: report.digest.to_string(),
                            actual: layer.diff_digest.map(|d| d.to_string()).unwrap_or_default(),
                        });
                    }
                    Ok(layer)
                }
                (Err(e), Ok(layer)) => {
                    let _ = self.delete_layer(&layer.id);
                    Err(e)
                }
                (Err(e), Err(import)) if is_broken_pipe(&e) => Err(import),
                (Err(e), Err(_)) => Err(e),
                (Ok(_), Err(import)) => Err(import),
            }
        })
    }
}
