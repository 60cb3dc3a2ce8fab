//! Opening a store: the first of the [`Store`] methods, in a module of
//! its own so rustdoc lists it first.

use std::path::Path;
use std::sync::Mutex;

use super::{Store, StoreOptions, db, open_read, root_check, settle_driver};
use crate::error::Result;
use crate::fs::durable::create_dir_all;

/// # Opening a store
///
/// Everything strata does is a method of an open [`Store`], listed here in
/// the order a caller meets them: open, move images in and out, look at
/// images, containers, layers, leases, and upkeep.
impl Store {
    /// Opens (creating if needed) the store, then cleans up after processes
    /// that died while changing it. A root that is another tool's store
    /// ([`Error::ForeignStore`](crate::Error::ForeignStore)) or a
    /// directory of other things ([`Error::NotAStore`](crate::Error::NotAStore))
    /// is refused before anything is written, and so is a store this user
    /// may not write ([`Error::PermissionDenied`](crate::Error::PermissionDenied);
    /// see [`Store::open_to_read`] to look at one).
    pub fn open(options: &StoreOptions) -> Result<Self> {
        let resolved = options.resolve()?;
        root_check::check_root(&resolved.root)?;
        open_read::check_writable(&resolved.root)?;
        for dir in [&resolved.root, &resolved.runroot] {
            create_dir_all(dir)?;
        }
        for sub in ["layers", "staging", "trash", "blobs/sha256"] {
            create_dir_all(&resolved.root.join(sub))?;
        }
        let conn = db::open(&resolved.root.join("strata.db"))?;
        let driver = settle_driver(&conn, &resolved)?;
        let store = Self {
            root: resolved.root,
            runroot: resolved.runroot,
            driver,
            db: Mutex::new(conn),
            read_only: None,
        };
        store.recover_all()?;
        Ok(store)
    }

    /// The store's persistent directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's runtime directory.
    pub fn runroot(&self) -> &Path {
        &self.runroot
    }

    /// The driver's name.
    pub fn driver_name(&self) -> &'static str {
        self.driver.name()
    }
}
