//! Opening a store that this user may read but not write (a root-owned
//! store, for a user who only looks), and saying so plainly when a user
//! tries to change a store that is not theirs: "permission denied: the
//! store at … belongs to root", not SQLite's "readonly database".
//!
//! A store opened to read is not recovered, migrated or created; its
//! database is opened read-only. SQLite reads a WAL database read-only
//! when its `-wal` and `-shm` files exist (a writer has it open); when
//! they do not (no writer has it open, so the database file is whole), it
//! is opened as immutable. Every change then fails with
//! [`Error::PermissionDenied`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use rustix::fs::{Access, AtFlags, CWD};

use super::{Store, StoreOptions, db, root_check};
use crate::driver;
use crate::error::{Error, Result};

/// The database's file name under the root.
const DATABASE: &str = "strata.db";

impl Store {
    /// Opens the store to read it: as [`Store::open`] does when this user
    /// may write to it; else, when the store exists and can be read,
    /// without changing anything (each change then fails with
    /// [`Error::PermissionDenied`]). For commands that only look (`images`,
    /// `inspect`, `layers`, `status`).
    pub fn open_to_read(options: &StoreOptions) -> Result<Self> {
        let resolved = options.resolve()?;
        root_check::check_root(&resolved.root)?;
        let database = resolved.root.join(DATABASE);
        let owner = match check_writable(&resolved.root) {
            Ok(()) => return Self::open(options),
            Err(Error::PermissionDenied { owner, .. }) if database.exists() => owner,
            Err(e) => return Err(e),
        };
        let denied = || Error::PermissionDenied {
            root: resolved.root.display().to_string(),
            owner: owner.clone(),
        };
        let conn = open_database(&database).map_err(|_| denied())?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        // An older store must be migrated first, which only its owner can.
        if version.max(0) as usize != db::schema_version() {
            return Err(denied());
        }
        let name: String = conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'driver'",
                [],
                |row| row.get(0),
            )
            .map_err(|_| denied())?;
        let driver = driver::open_existing(&name, &resolved.root, &resolved.runroot)?;
        Ok(Self {
            root: resolved.root,
            runroot: resolved.runroot,
            driver,
            db: Mutex::new(conn),
            read_only: Some(owner),
        })
    }

    /// Whether the store was opened to read only (see
    /// [`Store::open_to_read`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// [`Error::PermissionDenied`] when the store was opened to read only.
    pub(crate) fn check_writable(&self) -> Result<()> {
        match &self.read_only {
            Some(owner) => Err(Error::PermissionDenied {
                root: self.root.display().to_string(),
                owner: owner.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// Opens the database at `path` read-only: as it is when a writer has its
/// WAL open, else as immutable.
fn open_database(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let uri = format!("file:{}?mode=ro", uri_path(path));
    let readable = |conn: &Connection| {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
            row.get::<_, i64>(0)
        })
    };
    if let Ok(conn) = Connection::open_with_flags(&uri, flags) {
        conn.busy_timeout(Duration::from_secs(60))?;
        if readable(&conn).is_ok() {
            return Ok(conn);
        }
    }
    let conn = Connection::open_with_flags(format!("{uri}&immutable=1"), flags)?;
    readable(&conn)?;
    Ok(conn)
}

/// `path` for a `file:` URI: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// [`Error::PermissionDenied`], naming the owner, when this user may not
/// write the store at `root` (or, when it does not exist yet, make it in
/// the nearest directory that does), or its database.
pub(crate) fn check_writable(root: &Path) -> Result<()> {
    let mut dir: PathBuf = root.to_path_buf();
    while !dir.exists() {
        match dir.parent() {
            Some(parent) => dir = parent.to_path_buf(),
            None => return Ok(()),
        }
    }
    let database = root.join(DATABASE);
    for path in [dir.as_path(), database.as_path()] {
        let mode = if path.is_dir() {
            Access::WRITE_OK | Access::EXEC_OK
        } else {
            Access::WRITE_OK
        };
        match rustix::fs::accessat(CWD, path, mode, AtFlags::EACCESS) {
            Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => {
                return Err(Error::PermissionDenied {
                    root: root.display().to_string(),
                    owner: owner_of(path),
                });
            }
            // Missing (the database of a new store), a read-only file
            // system, ...: the open that follows says what is wrong.
            _ => continue,
        }
    }
    Ok(())
}

/// The name of the user who owns `path` (from `/etc/passwd`), else `uid N`.
fn owner_of(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata(path).map(|meta| meta.uid()) else {
        return "another user".to_string();
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id: u32 = fields.nth(1)?.parse().ok()?;
            (id == uid).then(|| name.to_string())
        })
        .next()
        .unwrap_or_else(|| format!("uid {uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths_escape_what_uris_read() {
        assert_eq!(uri_path(Path::new("/a b/c?d#e%f")), "/a b/c%3fd%23e%25f");
    }

    #[test]
    fn the_owner_of_root_files_is_root() {
        assert_eq!(owner_of(Path::new("/")), "root");
    }
}
