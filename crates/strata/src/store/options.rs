//! Where a store lives and which driver it uses: explicit options, then
//! `STRATA_ROOT` / `STRATA_RUNROOT` / `STRATA_DRIVER`, then defaults
//! (`/var/lib/strata` and `/run/strata` as root, `$XDG_DATA_HOME/strata` and
//! `$XDG_RUNTIME_DIR/strata` otherwise). A user without `HOME` (and
//! without `XDG_DATA_HOME`) has no default root: the store is never made
//! relative to the current directory.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// How to open a store.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// Persistent state: database, layers, blobs.
    pub root: Option<PathBuf>,
    /// Runtime state that a reboot resets.
    pub runroot: Option<PathBuf>,
    /// Storage driver name; the store remembers the one it was created with.
    pub driver: Option<String>,
}

/// Options with every default resolved.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedOptions {
    /// Persistent state.
    pub root: PathBuf,
    /// Runtime state.
    pub runroot: PathBuf,
    /// Driver asked for, if any.
    pub driver: Option<String>,
}

impl StoreOptions {
    /// Fills in what is not given from the environment and the defaults;
    /// [`Error::NoDefaultRoot`] when no root is given and there is no
    /// default one.
    pub(crate) fn resolve(&self) -> Result<ResolvedOptions> {
        let env = |key: &str| {
            std::env::var_os(key)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = self
            .root
            .clone()
            .or_else(|| env("STRATA_ROOT"))
            .map_or_else(default_root, Ok)?;
        let runroot = self
            .runroot
            .clone()
            .or_else(|| env("STRATA_RUNROOT"))
            .unwrap_or_else(default_runroot);
        let driver = self.driver.clone().or_else(|| {
            std::env::var("STRATA_DRIVER")
                .ok()
                .filter(|v| !v.is_empty())
        });
        Ok(ResolvedOptions {
            root: absolute(root),
            runroot: absolute(runroot),
            driver,
        })
    }
}

/// `path` made absolute against the current directory (left as it is if
/// that cannot be found).
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// An environment variable that holds an absolute path (a relative one
/// would put the store wherever the command happens to run).
fn absolute_var(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
}

fn default_root() -> Result<PathBuf> {
    if is_root() {
        return Ok(PathBuf::from("/var/lib/strata"));
    }
    let data = absolute_var("XDG_DATA_HOME")
        .or_else(|| absolute_var("HOME").map(|home| home.join(".local/share")))
        .ok_or(Error::NoDefaultRoot)?;
    Ok(data.join("strata"))
}

fn default_runroot() -> PathBuf {
    if is_root() {
        return PathBuf::from("/run/strata");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) => PathBuf::from(dir).join("strata"),
        None => std::env::temp_dir().join(format!("strata-{}", rustix::process::getuid().as_raw())),
    }
}
