//! A look at a store without opening it, for `strata version`: where it
//! is, whether it exists, its schema version and its driver. Nothing is
//! created, migrated or recovered; a store that does not exist is
//! reported as such.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use super::{Store, StoreOptions, db};
use crate::error::Result;

/// The database's file name under the root.
const DATABASE: &str = "strata.db";

/// A store as found on disk, read without opening it.
#[derive(Debug, Clone, Serialize)]
pub struct StoreDescription {
    /// Persistent directory (where the store is or would be).
    pub root: String,
    /// Runtime directory.
    pub runroot: String,
    /// Whether a store exists at `root` (it has a database).
    pub exists: bool,
    /// The schema version of the store's database; `None` when there is
    /// no store.
    pub schema_version: Option<usize>,
    /// The schema version this build writes (and migrates older stores to
    /// when it opens them).
    pub supported_schema_version: usize,
    /// The driver the store was created with; `None` when there is no
    /// store, or it has not settled one yet.
    pub driver: Option<String>,
    /// The driver asked for (`--driver`, `STRATA_DRIVER`), if any.
    pub requested_driver: Option<String>,
}

impl Store {
    /// Describes the store `options` name without creating or changing
    /// it. Its database, if any, is opened read-only.
    pub fn describe(options: &StoreOptions) -> Result<StoreDescription> {
        let resolved = options.resolve()?;
        let database = resolved.root.join(DATABASE);
        let (exists, schema_version, driver) = match database.exists() {
            true => {
                let (version, driver) = read_database(&database)?;
                (true, Some(version), driver)
            }
            false => (false, None, None),
        };
        Ok(StoreDescription {
            root: resolved.root.display().to_string(),
            runroot: resolved.runroot.display().to_string(),
            exists,
            schema_version,
            supported_schema_version: db::schema_version(),
            driver,
            requested_driver: resolved.driver,
        })
    }
}

/// The schema version and recorded driver of the database at `path`,
/// opened read-only.
fn read_database(path: &Path) -> Result<(usize, Option<String>)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let has_settings: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings')",
        [],
        |row| row.get(0),
    )?;
    let driver = match has_settings {
        true => conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'driver'",
                [],
                |row| row.get(0),
            )
            .optional()?,
        false => None,
    };
    Ok((version.max(0) as usize, driver))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &Path) -> StoreOptions {
        StoreOptions {
            root: Some(dir.join("root")),
            runroot: Some(dir.join("run")),
            driver: Some("vfs".into()),
        }
    }

    #[test]
    fn a_missing_store_is_described_and_not_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let described = Store::describe(&options(dir.path())).expect("describe");
        assert!(!described.exists);
        assert_eq!(described.schema_version, None);
        assert_eq!(described.driver, None);
        assert_eq!(described.requested_driver.as_deref(), Some("vfs"));
        assert!(!dir.path().join("root").exists());
        assert!(!dir.path().join("run").exists());
    }

    #[test]
    fn an_existing_store_gives_its_schema_and_driver() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(Store::open(&options(dir.path())).expect("open"));
        let described = Store::describe(&options(dir.path())).expect("describe");
        assert!(described.exists);
        assert_eq!(described.schema_version, Some(db::schema_version()));
        assert_eq!(described.driver.as_deref(), Some("vfs"));
    }
}
