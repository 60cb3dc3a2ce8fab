//! Layer rows: the queries behind lookups, listings, names, metadata and
//! state transitions. Only `ready` layers are visible to lookups.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::layer::{Layer, LayerState};
use crate::compression::Compression;
use crate::digest::Digest;
use crate::error::{Error, Result};

const COLUMNS: &str = "id, parent, created, metadata, flags, diff_digest, diff_size, compressed_digest, \
     compressed_size, compression, uid_map, gid_map, uid_set, gid_set, read_write, has_tar_split, state";

/// What a new row holds before its data exists.
pub(crate) struct NewRow<'a> {
    pub id: &'a str,
    pub parent: Option<&'a str>,
    pub metadata: &'a str,
    pub uid_map: String,
    pub gid_map: String,
    pub read_write: bool,
    pub work_dir: &'a str,
}

/// What an import learned, recorded when the layer becomes ready.
pub(crate) struct Contents {
    pub diff_digest: Option<Digest>,
    pub diff_size: Option<u64>,
    pub compressed_digest: Option<Digest>,
    pub compressed_size: Option<u64>,
    pub compression: Compression,
    pub uid_set: Vec<u32>,
    pub gid_set: Vec<u32>,
    pub has_tar_split: bool,
}

fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, format!("{what}: {value:?}"), rusqlite::types::Type::Text)
}

fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
    what: &str,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|_| corrupt(what, &text))
}

fn digest_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Digest>> {
    let text: Option<String> = row.get(index)?;
    text.map(|t| Digest::parse(&t).map_err(|_| corrupt("digest", &t)))
        .transpose()
}

fn size_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<u64>> {
    Ok(row.get::<_, Option<i64>>(index)?.map(|n| n.max(0) as u64))
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Layer> {
    let compression: String = row.get(9)?;
    let state: String = row.get(16)?;
    Ok(Layer {
        id: row.get(0)?,
        names: Vec::new(),
        parent: row.get(1)?,
        created: row.get(2)?,
        metadata: row.get(3)?,
        flags: json_column(row, 4, "flags")?,
        diff_digest: digest_column(row, 5)?,
        diff_size: size_column(row, 6)?,
        compressed_digest: digest_column(row, 7)?,
        compressed_size: size_column(row, 8)?,
        compression: Compression::from_name(&compression)
            .ok_or_else(|| corrupt("compression", &compression))?,
        uid_map: json_column(row, 10, "uid map")?,
        gid_map: json_column(row, 11, "gid map")?,
        uid_set: json_column(row, 12, "uid set")?,
        gid_set: json_column(row, 13, "gid set")?,
        read_write: row.get(14)?,
        has_tar_split: row.get(15)?,
        state: LayerState::from_name(&state).ok_or_else(|| corrupt("state", &state))?,
    })
}

/// Whether `text` is a full layer id.
pub(crate) fn is_id(text: &str) -> bool {
    text.len() == 64 && is_hex(text)
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks a layer name.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 255
        || name.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err(Error::InvalidName(name.to_string()));
    }
    Ok(())
}

/// Where one kind of record lives, for lookups by id, name or prefix.
pub(crate) struct Lookup {
    /// The table of records (`id`, `state` columns).
    pub records: &'static str,
    /// The table of names (`name` and the owner column).
    pub names: &'static str,
    /// The column of `names` holding the record's id.
    pub owner: &'static str,
    /// The error for a reference that matches nothing.
    pub not_found: fn(String) -> Error,
}

/// Layers, for [`resolve_in`].
const LAYERS: Lookup = Lookup {
    records: "layers",
    names: "layer_names",
    owner: "layer_id",
    not_found: Error::LayerNotFound,
};

/// Resolves a full id, a name or a unique id prefix to a ready layer's id.
pub(crate) fn resolve(conn: &Connection, reference: &str) -> Result<String> {
    resolve_in(conn, &LAYERS, reference)
}

/// Resolves a full id, a name or a unique id prefix, in that order, to the
/// id of a `ready` record of `lookup`'s kind; an ambiguous prefix is an
/// error listing the candidates.
pub(crate) fn resolve_in(conn: &Connection, lookup: &Lookup, reference: &str) -> Result<String> {
    let Lookup {
        records,
        names,
        owner,
        not_found,
    } = *lookup;
    if is_id(reference) {
        let ready: Option<String> = conn
            .prepare_cached(&format!(
                "SELECT id FROM {records} WHERE id = ?1 AND state = 'ready'"
            ))?
            .query_row([reference], |row| row.get(0))
            .optional()?;
        if let Some(id) = ready {
            return Ok(id);
        }
    }
    let by_name: Option<String> = conn
        .prepare_cached(&format!(
            "SELECT r.id FROM {names} n JOIN {records} r ON r.id = n.{owner} \
             WHERE n.name = ?1 AND r.state = 'ready'"
        ))?
        .query_row([reference], |row| row.get(0))
        .optional()?;
    if let Some(id) = by_name {
        return Ok(id);
    }
    if reference.is_empty() || reference.len() >= 64 || !is_hex(reference) {
        return Err(not_found(reference.to_string()));
    }
    let upper = format!("{reference}g");
    let ids: Vec<String> = conn
        .prepare_cached(&format!(
            "SELECT id FROM {records} WHERE id >= ?1 AND id < ?2 AND state = 'ready' \
             ORDER BY id LIMIT 16"
        ))?
        .query_map(params![reference, upper], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    match ids.len() {
        0 => Err(not_found(reference.to_string())),
        1 => Ok(ids.into_iter().next().unwrap_or_default()),
        _ => Err(Error::Ambiguous {
            reference: reference.to_string(),
            candidates: ids,
        }),
    }
}

/// The state of row `id`, if there is one.
pub(crate) fn state(conn: &Connection, id: &str) -> Result<Option<LayerState>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT state FROM layers WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    Ok(text.and_then(|t| LayerState::from_name(&t)))
}

/// The layer `id` with its names, whatever its state.
pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<Layer>> {
    let sql = format!("SELECT {COLUMNS} FROM layers WHERE id = ?1");
    let layer = conn
        .prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?;
    let Some(mut layer) = layer else {
        return Ok(None);
    };
    layer.names = names_of(conn, id)?;
    Ok(Some(layer))
}

fn names_of(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM layer_names WHERE layer_id = ?1 ORDER BY name")?;
    let names = stmt
        .query_map([id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

/// Every ready layer, sorted by creation time then id, with names.
pub(crate) fn list(conn: &Connection) -> Result<Vec<Layer>> {
    let sql = format!("SELECT {COLUMNS} FROM layers WHERE state = 'ready' ORDER BY created, id");
    let mut layers: Vec<Layer> = conn
        .prepare_cached(&sql)?
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let mut names: HashMap<String, Vec<String>> = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT layer_id, name FROM layer_names ORDER BY name")?;
    for pair in stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })? {
        let (id, name) = pair?;
        names.entry(id).or_default().push(name);
    }
    for layer in &mut layers {
        layer.names = names.remove(&layer.id).unwrap_or_default();
    }
    Ok(layers)
}

/// Ids of the layers whose parent is `id` (in any state).
pub(crate) fn children(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM layers WHERE parent = ?1 ORDER BY id")?;
    let ids = stmt
        .query_map([id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Inserts a row in state `creating`, owned by `work_dir`.
pub(crate) fn insert_creating(conn: &Connection, row: &NewRow<'_>, created: &str) -> Result<()> {
    let inserted = conn.prepare_cached(
        "INSERT INTO layers (id, parent, created, metadata, uid_map, gid_map, read_write, state, work_dir) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'creating', ?8)",
    )?
    .execute(params![row.id, row.parent, created, row.metadata, row.uid_map, row.gid_map, row.read_write, row.work_dir]);
    match inserted {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(Error::LayerExists(row.id.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Records what the import found and makes the layer ready.
pub(crate) fn make_ready(conn: &Connection, id: &str, contents: &Contents) -> Result<()> {
    let to_json = |set: &Vec<u32>| serde_json::to_string(set).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "UPDATE layers SET state = 'ready', work_dir = NULL, diff_digest = ?2, diff_size = ?3, \
         compressed_digest = ?4, compressed_size = ?5, compression = ?6, uid_set = ?7, gid_set = ?8, \
         has_tar_split = ?9 WHERE id = ?1 AND state = 'creating'",
    )?
    .execute(params![
        id,
        contents.diff_digest.as_ref().map(Digest::as_str),
        contents.diff_size.map(|n| n as i64),
        contents.compressed_digest.as_ref().map(Digest::as_str),
        contents.compressed_size.map(|n| n as i64),
        contents.compression.name(),
        to_json(&contents.uid_set),
        to_json(&contents.gid_set),
        contents.has_tar_split,
    ])?;
    Ok(())
}

/// Marks a ready layer `deleting`, owned by `work_dir`, and drops its names.
pub(crate) fn mark_deleting(conn: &Connection, id: &str, work_dir: &str) -> Result<()> {
    conn.prepare_cached("UPDATE layers SET state = 'deleting', work_dir = ?2 WHERE id = ?1")?
        .execute(params![id, work_dir])?;
    conn.prepare_cached("DELETE FROM layer_names WHERE layer_id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Removes a row and everything hanging off it.
pub(crate) fn delete(conn: &Connection, id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM layer_names WHERE layer_id = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM mounts WHERE layer_id = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM layers WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Rows not ready, with their owning work directory.
pub(crate) fn unfinished(conn: &Connection) -> Result<Vec<(String, LayerState, Option<String>)>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, state, work_dir FROM layers WHERE state != 'ready'")?;
    let rows = stmt.query_map([], |row| {
        let state: String = row.get(1)?;
        Ok((row.get(0)?, state, row.get(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, state, work_dir): (String, String, Option<String>) = row?;
        let state = LayerState::from_name(&state).ok_or_else(|| corrupt("state", &state))?;
        out.push((id, state, work_dir));
    }
    Ok(out)
}

/// Whether row `id` of `table` (`layers` or `containers`) is still
/// unfinished and owned by the work directory `work`. Recovery asks again
/// once it holds (or found gone) the owner's lock: an owner that finished
/// between recovery's first look and the lock has made its row `ready` or
/// removed it, and that row is no longer recovery's to undo.
pub(crate) fn still_unfinished(
    conn: &Connection,
    table: &str,
    id: &str,
    work: Option<&str>,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT 1 FROM {table} WHERE id = ?1 AND state != 'ready' AND work_dir IS ?2"
        ))?
        .query_row(params![id, work], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Gives `id` exactly `names`, taking any of them from other layers.
pub(crate) fn set_names(conn: &Connection, id: &str, names: &[String]) -> Result<()> {
    conn.prepare_cached("DELETE FROM layer_names WHERE layer_id = ?1")?
        .execute([id])?;
    add_names(conn, id, names)
}

/// Adds `names` to `id`, taking them from other layers.
pub(crate) fn add_names(conn: &Connection, id: &str, names: &[String]) -> Result<()> {
    for name in names {
        check_name(name)?;
        conn.prepare_cached(
            "INSERT INTO layer_names (name, layer_id) VALUES (?1, ?2) \
             ON CONFLICT(name) DO UPDATE SET layer_id = excluded.layer_id",
        )?
        .execute(params![name, id])?;
    }
    Ok(())
}

/// Removes `names` from `id`; names it does not have are an error.
pub(crate) fn remove_names(conn: &Connection, id: &str, names: &[String]) -> Result<()> {
    for name in names {
        let removed = conn
            .prepare_cached("DELETE FROM layer_names WHERE name = ?1 AND layer_id = ?2")?
            .execute(params![name, id])?;
        if removed == 0 {
            return Err(Error::Invalid(format!("layer {id} has no name {name:?}")));
        }
    }
    Ok(())
}

/// Sets the caller's metadata string.
pub(crate) fn set_metadata(conn: &Connection, id: &str, metadata: &str) -> Result<()> {
    conn.prepare_cached("UPDATE layers SET metadata = ?2 WHERE id = ?1")?
        .execute(params![id, metadata])?;
    Ok(())
}

/// Replaces the flags map.
pub(crate) fn set_flags(
    conn: &Connection,
    id: &str,
    flags: &BTreeMap<String, serde_json::Value>,
) -> Result<()> {
    let text = serde_json::to_string(flags).map_err(|e| Error::Invalid(format!("flags: {e}")))?;
    conn.prepare_cached("UPDATE layers SET flags = ?2 WHERE id = ?1")?
        .execute(params![id, text])?;
    Ok(())
}
