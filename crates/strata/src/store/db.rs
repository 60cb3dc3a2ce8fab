//! The metadata database: SQLite in WAL mode, every record and every state
//! transition. Transactions are short and never wrap slow I/O. The schema
//! is versioned with `PRAGMA user_version`; migrations run in order.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::Result;

/// Schema migrations; entry `i` brings the schema from version `i` to `i+1`.
/// Changing an existing entry breaks stores created with it: only append.
const MIGRATIONS: &[&str] = &[
    // 1: layers, their names, mount counts, store settings.
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE layers (
        id TEXT PRIMARY KEY,
        parent TEXT,
        created TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '',
        flags TEXT NOT NULL DEFAULT '{}',
        diff_digest TEXT,
        diff_size INTEGER,
        compressed_digest TEXT,
        compressed_size INTEGER,
        compression TEXT NOT NULL DEFAULT 'none',
        uid_map TEXT NOT NULL DEFAULT '[]',
        gid_map TEXT NOT NULL DEFAULT '[]',
        uid_set TEXT NOT NULL DEFAULT '[]',
        gid_set TEXT NOT NULL DEFAULT '[]',
        read_write INTEGER NOT NULL DEFAULT 0,
        has_tar_split INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        work_dir TEXT
     );
     CREATE INDEX layers_by_parent ON layers(parent);
     CREATE INDEX layers_unfinished ON layers(state) WHERE state != 'ready';
     CREATE TABLE layer_names (name TEXT PRIMARY KEY, layer_id TEXT NOT NULL);
     CREATE INDEX layer_names_by_layer ON layer_names(layer_id);
     CREATE TABLE mounts (layer_id TEXT PRIMARY KEY, count INTEGER NOT NULL, boot_id TEXT NOT NULL);",
    // 2: containers (a read-write layer on a base layer) and their names.
    // `state` is creating or ready; a creating row is owned by the work
    // directory `work_dir` (its lock held by the creating process).
    "CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        layer_id TEXT NOT NULL UNIQUE,
        base_layer TEXT,
        created TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        work_dir TEXT
     );
     CREATE INDEX containers_by_base ON containers(base_layer);
     CREATE INDEX containers_unfinished ON containers(state) WHERE state != 'ready';
     CREATE TABLE container_names (name TEXT PRIMARY KEY, container_id TEXT NOT NULL);
     CREATE INDEX container_names_by_container ON container_names(container_id);",
    // 3: images (a config blob, its layers, names) and leases (holds on
    // layers by an operation in progress, owned by a work directory).
    // `layers` is a JSON array of layer ids, base first; `manifests` a
    // JSON array of the digests of manifest blobs kept for the image.
    "CREATE TABLE images (
        id TEXT PRIMARY KEY,
        top_layer TEXT,
        layers TEXT NOT NULL,
        manifests TEXT NOT NULL DEFAULT '[]',
        created TEXT NOT NULL,
        added TEXT NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'ready'
     );
     CREATE INDEX images_by_top_layer ON images(top_layer);
     CREATE TABLE image_names (name TEXT PRIMARY KEY, image_id TEXT NOT NULL);
     CREATE INDEX image_names_by_image ON image_names(image_id);
     CREATE TABLE leases (id TEXT PRIMARY KEY, work_dir TEXT NOT NULL, created TEXT NOT NULL);
     CREATE TABLE lease_layers (
        lease_id TEXT NOT NULL,
        layer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (lease_id, layer_id)
     );
     CREATE INDEX lease_layers_by_layer ON lease_layers(layer_id);",
    // 4: leases expire (`expires`: unix seconds, NULL for never) and hold
    // blobs written before any image names them; what recovery did when
    // the store was opened, kept until fsck reports it.
    "ALTER TABLE leases ADD COLUMN expires INTEGER;
     CREATE TABLE lease_blobs (
        lease_id TEXT NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (lease_id, digest)
     );
     CREATE INDEX lease_blobs_by_digest ON lease_blobs(digest);
     CREATE TABLE recovery_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        detail TEXT NOT NULL
     );",
    // 5: a container records the image it was made from (NULL for one made
    // on a bare layer, and for containers of older stores).
    "ALTER TABLE containers ADD COLUMN image_id TEXT;
     CREATE INDEX containers_by_image ON containers(image_id);",
    // 6: where compressed forms of layers were seen in registries, so a
    // push can reuse or mount them instead of uploading (see the
    // `blob_sources` module).
    "CREATE TABLE blob_sources (
        diff_id TEXT NOT NULL,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        media_type TEXT NOT NULL,
        host TEXT NOT NULL,
        repository TEXT NOT NULL,
        seen INTEGER NOT NULL,
        PRIMARY KEY (diff_id, digest, host, repository)
     );",
    // 7: layer blobs (compressed, as a registry holds them) that an
    // image's manifests name and the store keeps in `blobs/` so the image
    // can be served with those manifests; named like its config.
    "CREATE TABLE image_blobs (
        image_id TEXT NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (image_id, digest)
     );
     CREATE INDEX image_blobs_by_digest ON image_blobs(digest);",
    // 8: image indexes (multi-platform images) pushed into the store: the
    // name an index was pushed under, its digest (its bytes are a blob)
    // and the image the name went to; and the images each index holds
    // (see the `indexes` module).
    "CREATE TABLE image_indexes (
        name TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        image_id TEXT NOT NULL
     );
     CREATE INDEX image_indexes_by_digest ON image_indexes(digest);
     CREATE TABLE index_images (
        digest TEXT NOT NULL,
        image_id TEXT NOT NULL,
        PRIMARY KEY (digest, image_id)
     );
     CREATE INDEX index_images_by_image ON index_images(image_id);",
];

/// Opens (creating if needed) the database at `path` and brings its schema
/// up to date.
pub fn open(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(60))?;
    use_wal(&conn)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Switches a new database to WAL (persistent once done). Several processes
/// creating the store at once contend for the switch, which SQLite does not
/// retry by itself.
fn use_wal(conn: &Connection) -> Result<()> {
    let mut attempt = 0;
    loop {
        let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && attempt < 600 =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(10 + attempt % 40));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version >= MIGRATIONS.len() as i64 {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated while we waited for the lock.
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// The schema version a fully migrated store has.
pub fn schema_version() -> usize {
    MIGRATIONS.len()
}
