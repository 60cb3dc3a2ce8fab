//! The process inputs credential lookup depends on, and the auth file
//! locations derived from them.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// Everything credential lookup and storage read from the process: the
/// environment variables podman and docker honour, the user id and the
/// `PATH` credential helpers are searched in.
///
/// [`Environment::from_process`] takes them from this process; tests and
/// embedders fill in a [`Default`] one instead. Empty variables count as
/// unset, as in containers/image.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Environment {
    /// `$HOME`: `~/.docker/config.json`, `~/.dockercfg` and (without
    /// `XDG_CONFIG_HOME`) `~/.config/containers/auth.json`.
    pub home: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`: podman's default auth file is
    /// `${XDG_RUNTIME_DIR}/containers/auth.json`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`: `${XDG_CONFIG_HOME}/containers/auth.json`
    /// (`~/.config` when unset).
    pub xdg_config_home: Option<PathBuf>,
    /// `$REGISTRY_AUTH_FILE`: when set, the only auth file read and the one
    /// written, as podman's and skopeo's `--authfile` default.
    pub registry_auth_file: Option<PathBuf>,
    /// `$DOCKER_CONFIG`: the directory holding docker's `config.json`
    /// (`~/.docker` when unset).
    pub docker_config: Option<PathBuf>,
    /// The real user id, naming `/run/containers/<uid>/auth.json` when
    /// `XDG_RUNTIME_DIR` is unset. `None` when it could not be found.
    pub uid: Option<u32>,
    /// `$PATH`, searched for `docker-credential-<name>` helpers and passed
    /// to them.
    pub path: Option<OsString>,
    /// The directory system paths such as `/run/containers/<uid>` are
    /// under: `/` except in tests.
    pub root: PathBuf,
}

impl Default for Environment {
    /// Nothing set, the system root `/`.
    fn default() -> Self {
        Environment {
            home: None,
            xdg_runtime_dir: None,
            xdg_config_home: None,
            registry_auth_file: None,
            docker_config: None,
            uid: None,
            path: None,
            root: PathBuf::from("/"),
        }
    }
}

/// One auth file to read, and whether it is in the legacy `.dockercfg`
/// format (a bare map of registry to entry, no `auths` wrapper).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuthPath {
    pub(crate) path: PathBuf,
    pub(crate) legacy: bool,
}

impl AuthPath {
    fn new(path: PathBuf) -> Self {
        AuthPath {
            path,
            legacy: false,
        }
    }
}

impl Environment {
    /// The environment of this process.
    pub fn from_process() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = |name: &str| var(name).map(PathBuf::from);
        Environment {
            home: dir("HOME"),
            xdg_runtime_dir: dir("XDG_RUNTIME_DIR"),
            xdg_config_home: dir("XDG_CONFIG_HOME"),
            registry_auth_file: dir("REGISTRY_AUTH_FILE"),
            docker_config: dir("DOCKER_CONFIG"),
            uid: process_uid(),
            path: var("PATH"),
            root: PathBuf::from("/"),
        }
    }

    /// The files [`find`](super::find) reads, in order. An explicit file,
    /// or else `$REGISTRY_AUTH_FILE`, is the only one; otherwise podman's
    /// runtime file, `containers/auth.json` in the config dir, docker's
    /// `config.json` and the legacy `~/.dockercfg`.
    pub(crate) fn read_paths(&self, explicit: Option<&Path>) -> Vec<AuthPath> {
        if let Some(path) = explicit.or(self.registry_auth_file.as_deref()) {
            return vec![AuthPath::new(path.to_path_buf())];
        }
        let mut paths = Vec::new();
        if let Some(runtime) = self.runtime_auth_file() {
            paths.push(AuthPath::new(runtime));
        }
        let config_home = self
            .xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")));
        if let Some(config) = config_home {
            paths.push(AuthPath::new(config.join("containers/auth.json")));
        }
        let docker = self
            .docker_config
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".docker")));
        if let Some(docker) = docker {
            paths.push(AuthPath::new(docker.join("config.json")));
        }
        if let Some(home) = &self.home {
            paths.push(AuthPath {
                path: home.join(".dockercfg"),
                legacy: true,
            });
        }
        paths
    }

    /// The file [`store`](super::store) and [`remove`](super::remove)
    /// edit: the explicit one, `$REGISTRY_AUTH_FILE`, or podman's runtime
    /// file. A set `XDG_RUNTIME_DIR` must exist, as podman requires.
    pub(crate) fn write_path(&self, explicit: Option<&Path>) -> Result<PathBuf> {
        if let Some(path) = explicit.or(self.registry_auth_file.as_deref()) {
            return Ok(path.to_path_buf());
        }
        if let Some(runtime) = &self.xdg_runtime_dir
            && !runtime.is_dir()
        {
            return Err(Error::RuntimeDirMissing(runtime.clone()));
        }
        self.runtime_auth_file().ok_or(Error::NoAuthFile)
    }

    /// `${XDG_RUNTIME_DIR}/containers/auth.json`, or
    /// `/run/containers/<uid>/auth.json` when that variable is unset.
    fn runtime_auth_file(&self) -> Option<PathBuf> {
        match (&self.xdg_runtime_dir, self.uid) {
            (Some(runtime), _) => Some(runtime.join("containers/auth.json")),
            (None, Some(uid)) => Some(
                self.root
                    .join("run/containers")
                    .join(uid.to_string())
                    .join("auth.json"),
            ),
            (None, None) => None,
        }
    }

    /// `PATH` as the helper's environment should get it.
    pub(crate) fn search_path(&self) -> Option<&OsStr> {
        self.path.as_deref()
    }
}

/// The real uid of this process, from `/proc/self/status` (its `Uid:` line
/// lists real, effective, saved and filesystem ids).
fn process_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|real| real.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_uid_matches_the_owner_of_a_new_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("probe");
        std::fs::write(&file, b"").expect("write");
        let owner = std::fs::metadata(&file).expect("stat").uid();
        // A new file belongs to the effective uid; tests do not run setuid,
        // so it is the real uid too.
        assert_eq!(process_uid(), Some(owner));
    }

    #[test]
    fn uid_path_is_under_root_without_xdg_runtime_dir() {
        let env = Environment {
            uid: Some(0),
            root: PathBuf::from("/tmp/r"),
            ..Environment::default()
        };
        assert_eq!(
            env.write_path(None).expect("path"),
            PathBuf::from("/tmp/r/run/containers/0/auth.json")
        );
        assert!(matches!(
            Environment::default().write_path(None),
            Err(Error::NoAuthFile)
        ));
    }
}
