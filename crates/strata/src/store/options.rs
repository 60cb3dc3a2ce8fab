//! Where a store lives and which driver it uses: explicit options, then
//! `STRATA_ROOT` / `STRATA_RUNROOT` / `STRATA_DRIVER`, then defaults
//! (`/var/lib/strata` and `/run/strata` as root, `$XDG_DATA_HOME/strata` and
//! `$XDG_RUNTIME_DIR/strata` otherwise).

use std::path::PathBuf;

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
    /// Fills in what is not given from the environment and the defaults.
    pub(crate) fn resolve(&self) -> ResolvedOptions {
        let env = |key: &str| {
            std::env::var_os(key)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = self
            .root
            .clone()
            .or_else(|| env("STRATA_ROOT"))
            .unwrap_or_else(default_root);
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
        ResolvedOptions {
            root: absolute(root),
            runroot: absolute(runroot),
            driver,
        }
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

fn home_dir(sub: &str) -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(sub)
}

fn default_root() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/strata");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir(".local/share"));
    data.join("strata")
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
