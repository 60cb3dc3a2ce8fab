//! Login and logout: editing the auth file podman writes (or a given
//! one), keeping everything else in it, replacing it atomically, or
//! handing the secret to the credential helper the file names.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use super::Credentials;
use super::env::{AuthPath, Environment};
use super::error::{Error, Result};
use super::file::{AuthFile, encode, read_bytes, validate_key};
use super::helper::Helper;

/// Where [`store`] put the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredIn {
    /// In this auth file.
    File(PathBuf),
    /// In this credential helper (`docker-credential-<name>`), by name.
    Helper(String),
}

/// Records `creds` for `key` (`registry`, or `registry/namespace…` as
/// `podman login` accepts) in `auth_file`, else `$REGISTRY_AUTH_FILE`,
/// else podman's `${XDG_RUNTIME_DIR}/containers/auth.json` (or
/// `/run/containers/<uid>/auth.json`).
///
/// When the file's `credHelpers` names a helper for the registry, the
/// helper stores them and the file is left alone. Otherwise the entry
/// `auths.<key>` is replaced and the rest of the file kept as it was; the
/// file is replaced atomically with mode 0600, its missing parent
/// directories created with mode 0700.
///
/// # Errors
///
/// An invalid key, a malformed existing file, a failing helper (or a
/// namespaced key for a registry a helper handles), or a write failure.
pub fn store(
    env: &Environment,
    auth_file: Option<&Path>,
    key: &str,
    creds: &Credentials,
) -> Result<StoredIn> {
    let namespaced = validate_key(key)?;
    let path = env.write_path(auth_file)?;
    let mut doc = Document::read(&path)?;
    if let Some((name, server_url)) = doc.parsed.helper_for(registry_of(key)) {
        if namespaced {
            return Err(Error::NamespacedHelperKey {
                helper: name,
                key: key.to_owned(),
            });
        }
        Helper::new(env, &name)?.store(&server_url, creds)?;
        return Ok(StoredIn::Helper(name));
    }
    doc.auths_mut().insert(key.to_owned(), encode(creds));
    doc.write()?;
    Ok(StoredIn::File(path))
}

/// Forgets the credentials for `key` in the file [`store`] writes: its
/// `auths.<key>` entry, and what the credential helper named for the
/// registry holds. Returns `false` when there was nothing to forget.
///
/// Only this exact key is removed, as `podman logout` does; other files
/// and other key forms are left alone.
///
/// # Errors
///
/// An invalid key, a malformed file, a failing helper or a write failure.
pub fn remove(env: &Environment, auth_file: Option<&Path>, key: &str) -> Result<bool> {
    let namespaced = validate_key(key)?;
    let path = env.write_path(auth_file)?;
    let mut doc = Document::read(&path)?;
    if !doc.existed {
        return Ok(false);
    }
    let mut removed = false;
    if !namespaced && let Some((name, server_url)) = doc.parsed.helper_for(key) {
        removed = Helper::new(env, &name)?.erase(&server_url)?;
    }
    if doc.auths_mut().remove(key).is_some() {
        removed = true;
        doc.write()?;
    }
    Ok(removed)
}

/// Forgets every login in the file [`store`] writes: all `auths` entries,
/// and what each helper in `credHelpers` holds for its registry. The
/// `credHelpers` configuration itself and all other content stay.
///
/// # Errors
///
/// A malformed file, a failing helper or a write failure.
pub fn remove_all(env: &Environment, auth_file: Option<&Path>) -> Result<()> {
    let path = env.write_path(auth_file)?;
    let mut doc = Document::read(&path)?;
    if !doc.existed {
        return Ok(());
    }
    for (registry, name) in doc.parsed.cred_helpers() {
        Helper::new(env, name)?.erase(registry)?;
    }
    let auths = doc.auths_mut();
    if !auths.is_empty() {
        auths.clear();
        doc.write()?;
    }
    Ok(())
}

/// `registry` of `registry/namespace…`.
fn registry_of(key: &str) -> &str {
    key.split_once('/').map_or(key, |(registry, _)| registry)
}

/// An auth file being edited: the whole JSON object, so unknown content
/// survives, with `auths` taken out for editing, and its parsed view.
struct Document {
    path: PathBuf,
    existed: bool,
    raw: Map<String, Value>,
    auths: Map<String, Value>,
    parsed: AuthFile,
}

impl Document {
    fn read(path: &Path) -> Result<Document> {
        let auth_path = AuthPath {
            path: path.to_path_buf(),
            legacy: false,
        };
        let Some(bytes) = read_bytes(path)? else {
            return Ok(Document {
                path: path.to_path_buf(),
                existed: false,
                raw: Map::new(),
                auths: Map::new(),
                parsed: AuthFile::default(),
            });
        };
        let parsed = AuthFile::parse(&auth_path, &bytes)?;
        let mut raw: Map<String, Value> =
            serde_json::from_slice(&bytes).map_err(|source| Error::Malformed {
                path: path.to_path_buf(),
                source,
            })?;
        // Parsing refused an `auths` that is neither an object nor null.
        let auths = match raw.remove("auths") {
            Some(Value::Object(auths)) => auths,
            _ => Map::new(),
        };
        Ok(Document {
            path: path.to_path_buf(),
            existed: true,
            raw,
            auths,
            parsed,
        })
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.auths
    }

    fn write(mut self) -> Result<()> {
        self.raw
            .insert("auths".to_owned(), Value::Object(self.auths));
        let mut bytes = serde_json::to_vec_pretty(&self.raw).map_err(|e| Error::Write {
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        bytes.push(b'\n');
        write_atomic(&self.path, &bytes)
    }
}

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `bytes`: parents created 0700, a 0600 temporary
/// file in the same directory written and synced, renamed over `path`,
/// and the directory synced so the rename survives a crash.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| Error::Write {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"),
    })?;
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(failed(dir))?;
    let (temp, mut file) = loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".tmp-{}-{n}", std::process::id()));
        let temp = dir.join(temp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
        {
            Ok(file) => break (temp, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(Error::Write { path: temp, source }),
        }
    };
    let written = file
        .set_permissions(fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&temp, path));
    drop(file);
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(Error::Write {
            path: path.to_path_buf(),
            source,
        });
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(failed(dir))
}
